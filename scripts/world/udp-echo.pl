#!/usr/bin/perl
# SPDX-License-Identifier: MIT
# UDP echo for the test world's inet namespace, started by world.sh.
# usage: udp-echo.pl LOG READY-FILE PORT[,PORT...] ADDRESS...
# One socket per address and port rather than one wildcard socket: a reply from a wildcard
# socket leaves from the veth address, which a connected client would drop; a bound socket
# answers from the address the datagram was sent to, and tells us that address for the log.
# Each datagram is logged as "udp DST:PORT from SRC:PORT len N" before it is echoed, so a test
# can assert whether a datagram reached "the internet". READY-FILE is created once every socket
# is bound.
use strict;
use warnings;
use IO::Handle;
use IO::Select;
use IO::Socket::IP;

my ($log, $ready, $ports, @addrs) = @ARGV;
die "usage: udp-echo.pl LOG READY-FILE PORT[,PORT...] ADDRESS...\n" unless @addrs;

open(my $lf, '>>', $log) or die "udp-echo: cannot open $log: $!\n";
$lf->autoflush(1);

my $sel = IO::Select->new;
for my $port (split /,/, $ports) {
	for my $addr (@addrs) {
		my $s = IO::Socket::IP->new(
			LocalHost => $addr,
			LocalPort => $port,
			Proto     => 'udp',
			ReuseAddr => 1,
		) or die "udp-echo: cannot bind $addr port $port: $@\n";
		$sel->add($s);
	}
}

sub hostport {
	my ($host, $port) = @_;
	return $host =~ /:/ ? "[$host]:$port" : "$host:$port";
}

$SIG{TERM} = $SIG{INT} = sub { exit 0 };

open(my $rf, '>', $ready) or die "udp-echo: cannot create $ready: $!\n";
close($rf);

for (;;) {
	for my $s ($sel->can_read) {
		my $buf;
		my $peer = $s->recv($buf, 65535, 0);
		next unless defined $peer;
		printf $lf "udp %s from %s len %d\n", hostport($s->sockhost, $s->sockport),
			hostport($s->peerhost, $s->peerport), length($buf);
		send($s, $buf, 0, $peer);
	}
}
