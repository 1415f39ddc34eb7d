#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The examples of README.md and the man pages: extract them, run them, compare.

tests/integration/docs_examples.sh runs this in the test world; its header describes the
annotations and what is compared. By hand:

  doc_examples.py list FILE...     the examples found: FILE:LINE, setup, skip, commands
  doc_examples.py selftest         checks the extractor and the comparison on made-up input
  doc_examples.py run FILE [--var SBX_X=ACTUAL]... [--map DOC=ACTUAL]... [--prelude F]
                  [--cwd DIR] -- SHELL...
      runs FILE's examples in order in one bash that SHELL... starts (reading commands
      from standard input, in the test world), and prints PASS/FAIL/SKIP per example,
      with a diff under each FAIL.

An example is a code block with lines that start with "$ " (Markdown: a ``` fence; roff: .nf
to .fi or .EX to .EE). Each "$ " line is a command (continued on the next line when it ends
in "\\" or "|"); the lines after it, up to the next command, are what it prints (standard
output and error, as a terminal shows them). The blocks of one file share one sbxd instance
and run in order, as a reader would type them.
"""
import os
import re
import shlex
import select
import signal
import subprocess
import sys
import time
import types

CMD_TIMEOUT = 60  # seconds for one command

UUID_SAMPLE = '%s0000000-0000-4000-8000-000000000000'
UUID = r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
TIME = '(?:' + '|'.join([
    r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}',  # the log's JSON last_seen
    r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: UTC)?',  # inspect's Created
    r'\d\d:\d\d:\d\d \d\d-[A-Z][a-z]{2}',  # the log's LAST SEEN
    r'just now|\d+ (?:second|minute|hour|day|week|month|year)s? ago',  # ls's CREATED
]) + ')'
# What legitimately differs from run to run, in an expected line: matched as a kind of value
# (a UUID is bound to this run's, see Doc), not literally.
VOLATILE_RE = re.compile('|'.join('(?P<%s>%s)' % kp for kp in [
    ('uuid', UUID),
    ('shortid', r'(?<=local:)[0-9a-f]{8}(?![\w-])'),  # a rule's name: local: and 8 of its ID
    ('time', TIME),
    ('keynum', r'"?(?:pid|uptime|created|started|cgroup_id|last_seen|time)"?:\s*\d+(?: s)?'),
    ('space', r'\s+'),
]))
WILDCARDS = ('...', '…')
ANNOT_MD = re.compile(r'^\s*<!--\s*example-(setup|skip):\s*(.*?)\s*-->\s*$')
ANNOT_ROFF = re.compile(r'^\.\\"\s*example-(setup|skip):\s*(.*?)\s*$')
FENCE = re.compile(r'^(\s*)(`{3,}|~{3,})(.*)$')
MARK = '\x1eDOCX'
MARK_RE = re.compile('\n?' + MARK + r' (\S+) (\d+)\x1e\n')

ROFF_CHARS = {'aq': "'", 'dq': '"', 'em': '—', 'en': '–', 'ti': '~', 'ha': '^', 'bu': '•',
              'ua': '↑', 'da': '↓', 'lq': '“', 'rq': '”', 'oq': '‘', 'cq': '’', 'rs': '\\',
              '->': '→', 'mu': '×', 'ga': '`', 'at': '@', 'sh': '#', 'Do': '$'}


class Example:
    def __init__(self, path, line):
        self.path, self.line = path, line
        self.setup, self.skip = [], None
        self.cmds = []  # [line, command, [expected lines]]

    @property
    def name(self):
        return '%s:%d' % (os.path.basename(self.path), self.line)


class DocError(Exception):
    pass


def roff_unescape(s):
    def one(m):
        e = m.group(1)
        if e in ('e', '\\'):
            return '\\'
        if e.startswith('('):
            return ROFF_CHARS.get(e[1:], m.group(0))
        if e.startswith('['):
            return ROFF_CHARS.get(e[1:-1], m.group(0))
        if e.startswith('f'):
            return ''
        return {'-': '-', '&': '', ' ': ' ', '|': '', '^': '', '.': '.'}.get(e, m.group(0))
    return re.sub(r'\\(\(..|\[[^]]*\]|f[BIRP1-3]|.)', one, s)


def parse_block(path, lines):
    """lines: [(lineno, text)] of one code block -> Example, or None without "$ " lines."""
    ex = None
    cont = False
    for no, text in lines:
        if cont:
            ex.cmds[-1][1] += '\n' + text
            cont = text.rstrip().endswith(('\\', '|'))
            continue
        if text.startswith('$ '):
            if ex is None:
                ex = Example(path, no)
            ex.cmds.append([no, text[2:], []])
            cont = text.rstrip().endswith(('\\', '|'))
        elif ex is not None:
            ex.cmds[-1][2].append(text)
    return ex


def extract(path):
    """Every example of a Markdown or roff file, with its annotations."""
    with open(path, encoding='utf-8') as f:
        text = f.read().split('\n')
    roff = not path.endswith('.md')
    found, pending, block = [], [], None

    def close(block_lines):
        ex = parse_block(path, block_lines)
        if ex is None:
            if pending:
                raise DocError('%s:%d: annotation "%s" precedes a block with no "$ " line'
                               % (path, pending[0][0], pending[0][2]))
            return
        for no, kind, arg in pending:
            if kind == 'setup':
                ex.setup.append(arg)
            else:
                ex.skip = arg
        found.append(ex)

    fence = indent = None
    for i, raw in enumerate(text, 1):
        if roff:
            if block is None:
                m = ANNOT_ROFF.match(raw)
                if m:
                    pending.append((i, m.group(1), roff_unescape(m.group(2))))
                elif raw.startswith(('.nf', '.EX')):
                    block = []
                continue
            if raw.startswith(('.fi', '.EE')):
                close(block)
                block, pending = None, []
            elif not raw.startswith(('.', "'")):
                block.append((i, roff_unescape(raw)))
            continue
        if block is None:
            m = ANNOT_MD.match(raw)
            if m:
                pending.append((i, m.group(1), m.group(2)))
                continue
            m = FENCE.match(raw)
            if m:
                indent, fence, block = len(m.group(1)), m.group(2), []
            continue
        m = FENCE.match(raw)
        if m and m.group(2).startswith(fence) and not m.group(3).strip():
            close(block)
            block, pending = None, []
            continue
        block.append((i, raw[indent:] if raw[:indent].strip() == '' else raw.lstrip()))
    if pending:
        raise DocError('%s:%d: annotation "%s" precedes no code block'
                       % (path, pending[0][0], pending[0][2]))
    return found


class Doc:
    """One file's run: the instance stands in for the default one (or for the one an
    example exports), and IDs shown in earlier output stand for the ones this run made."""

    DEFAULTS = {'SBX_STATE_DIR': '/var/lib/sbx', 'SBX_RUN_DIR': '/run/sbx',
                'SBX_BPF_DIR': '/sys/fs/bpf/sbx', 'SBX_CONFIG': '/etc/sbx/sbxd.conf',
                'SBX_INSTANCE': 'sbx'}

    def __init__(self, actual, maps):
        self.doc = dict(self.DEFAULTS)
        self.actual = actual  # SBX_* -> this run's value
        self.maps = maps  # [(doc, actual)] besides the SBX_* ones
        self.ids = {}  # UUID in the docs -> UUID of this run

    def pairs(self):
        p = [(self.doc[k], v) for k, v in self.actual.items()] + self.maps
        return sorted(p, key=lambda dv: -len(dv[1]))

    def to_run(self, cmd):
        """A command as written -> as run here."""
        if cmd.lstrip().startswith('export '):
            for word in shlex.split(cmd)[1:]:
                k, _, v = word.partition('=')
                if k in self.doc:
                    self.doc[k] = v
        for d, a in sorted(self.pairs(), key=lambda dv: -len(dv[0])):
            if d and not d == self.doc.get('SBX_INSTANCE'):
                cmd = cmd.replace(d, a)
        cmd = re.sub(r'\bSBX_INSTANCE=\S+', 'SBX_INSTANCE=' + self.actual['SBX_INSTANCE'], cmd)
        for u in re.findall(UUID, cmd):
            if u not in self.ids:
                raise DocError('uses the ID %s, which no output before it showed' % u)
            cmd = cmd.replace(u, self.ids[u])

        return self.map_prefixes(cmd)

    def prefix_of(self, w):
        """This run's value for a prefix of an ID the docs showed, or None."""
        got = {a[:len(w)] for d, a in self.ids.items() if d.startswith(w) and len(a) >= len(w)}
        return got.pop() if len(got) == 1 else None

    def map_prefixes(self, text):
        """ID prefixes the docs show (8+ characters, or 4+ with a letter, as `rm 13b9`) ->
        this run's."""
        def one(m):
            w = m.group(0)
            if len(w) < 8 and not re.search('[a-f]', w):
                return w
            return self.prefix_of(w) or w
        return re.sub(r'(?<![\w-])[0-9a-f]{4}(?:[0-9a-f-]{0,32})(?![\w-])', one, text)

    def from_run(self, text):
        """Output as printed here -> as the default instance would print it."""
        for d, a in self.pairs():
            if a:
                text = text.replace(a, d)
        return text

    def pattern(self, line):
        """An expected line -> (regex, [doc UUID per group])."""
        out, groups, pos = [], [], 0
        s = re.sub(r'(?<!local:)(?<![\w-])[0-9a-f]{4,7}(?![\w-])',
                   lambda m: self.map_prefixes(m.group(0)), line.strip())
        for m in VOLATILE_RE.finditer(s):
            out.append(re.escape(s[pos:m.start()]))
            kind, tok = m.lastgroup, m.group(0)
            if kind == 'uuid':
                if tok in self.ids:
                    out.append(re.escape(self.ids[tok]))
                else:
                    out.append('(' + UUID + ')')
                    groups.append(tok)
            elif kind == 'shortid':
                known = self.prefix_of(tok)
                if known:
                    out.append(re.escape(known))
                else:
                    out.append('([0-9a-f]{8})')
                    groups.append(tok)
            elif kind == 'keynum':
                key = re.match(r'"?\w+"?:', tok).group(0)
                out.append(re.escape(key) + r'\s*\d+(?: s)?')
            elif kind == 'time':
                out.append(TIME)
            else:
                out.append(r'\s+')
            pos = m.end()
        out.append(re.escape(s[pos:]))
        return re.compile(''.join(out)), groups


def canon(line):
    return ' '.join(line.split())


def align(doc, expected, actual):
    """Edit-distance alignment: a wildcard line takes any number of actual lines, a pattern
    line one it matches. Returns (cost, ops) with ops (' ', e, a) / ('-', e, None) /
    ('+', None, a) / ('*', e, [a...])."""
    pats = [None if e.strip() in WILDCARDS else doc.pattern(e) for e in expected]
    ca = [canon(a) for a in actual]
    n, m = len(expected), len(actual)
    INF = 1 << 30
    cost = [[INF] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0
    for j in range(1, m + 1):
        cost[0][j] = j
    ok = {}
    for i in range(1, n + 1):
        for j in range(0, m + 1):
            if pats[i - 1] is None:
                c = cost[i - 1][j]
                if j:
                    c = min(c, cost[i][j - 1])
                cost[i][j] = c
                continue
            c = cost[i - 1][j] + 1
            if j:
                c = min(c, cost[i][j - 1] + 1)
                hit = pats[i - 1][0].fullmatch(ca[j - 1])
                ok[i, j] = hit
                if hit:
                    c = min(c, cost[i - 1][j - 1])
            cost[i][j] = c
    ops, i, j = [], n, m
    while i or j:
        if i and pats[i - 1] is None:
            taken = []
            while j and cost[i][j] == cost[i][j - 1]:
                taken.append(actual[j - 1])
                j -= 1
            ops.append(('*', expected[i - 1], taken[::-1]))
            i -= 1
        elif i and j and ok.get((i, j)) and cost[i][j] == cost[i - 1][j - 1]:
            ops.append((' ', expected[i - 1], actual[j - 1], ok[i, j], pats[i - 1][1]))
            i, j = i - 1, j - 1
        elif j and cost[i][j] == cost[i][j - 1] + 1:
            ops.append(('+', None, actual[j - 1]))
            j -= 1
        else:
            ops.append(('-', expected[i - 1], None))
            i -= 1
    return cost[n][m], ops[::-1]


def bind(doc, ops, notes):
    """Take the run's UUIDs where the docs show theirs; a doc UUID must always stand for one
    run UUID and the other way round. Returns the ops, a line that breaks this turned '-'/'+';
    says why in notes."""
    out = []
    for op in ops:
        if op[0] != ' ':
            out.append(op)
            continue
        hit, names = op[3], op[4]
        clash = False
        for k, d in enumerate(names):
            a = hit.group(k + 1)
            other = [x for x, y in doc.ids.items() if y == a and x != d]
            if d in doc.ids and doc.ids[d] != a:
                clash = True
                notes.append("the docs' %s is %s in this run (shown earlier), not %s"
                             % (d, doc.ids[d], a))
            elif other:
                clash = True
                notes.append("this run's %s already stands for the docs' %s" % (a, other[0]))
            else:
                doc.ids[d] = a
                if len(d) > 8:  # its name, local:ID8, is then known too
                    doc.ids.setdefault(d[:8], a[:8])
        if clash:
            out += [('-', op[1], None), ('+', None, op[2])]
        else:
            out.append(op)
    return out


def render(ops):
    """A diff to read: '-' the docs only, '+' this run only, ' ' both (as printed here)."""
    lines = []
    for op in ops:
        if op[0] == '*':
            lines.append('  %s   (%d lines)' % (op[1].strip(), len(op[2])))
        elif op[0] == ' ':
            lines.append('  ' + op[2])
        elif op[0] == '-':
            lines.append('- ' + op[1])
        else:
            lines.append('+ ' + op[2])
    # long runs of agreement shortened to their ends
    keep = [not l.startswith('  ') for l in lines]
    out, k = [], 0
    while k < len(lines):
        if keep[k]:
            out.append(lines[k])
            k += 1
            continue
        e = k
        while e < len(lines) and not keep[e]:
            e += 1
        if e - k > 6:
            out += lines[k:k + 2] + ['  ... (%d matching lines)' % (e - k - 4)] + lines[e - 2:e]
        else:
            out += lines[k:e]
        k = e
    return out


class Shell:
    """One bash in the test world for a whole file, fed a command at a time (so exports
    carry on, as in a terminal); each command's output ends at a marker with its status."""

    def __init__(self, argv, cwd, prelude):
        self.argv, self.cwd, self.prelude, self.p = argv, cwd, prelude, None

    def start(self):
        self.p = subprocess.Popen(self.argv, cwd=self.cwd, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        self.buf = b''
        head = ['exec 2>&1', "__m() { printf '\\n%s %%s %%s\\036\\n' \"$1\" \"$2\"; }" % MARK]
        if self.prelude:
            head.append('. %s' % shlex.quote(self.prelude))
        return self.run('\n'.join(head), 'prelude', CMD_TIMEOUT)

    def run(self, code, tag, timeout):
        """-> (output, status); status None when it did not finish in time."""
        if self.p is None or self.p.poll() is not None:
            if tag != 'prelude':
                out, rc = self.start()
                if rc != 0:
                    return 'the shell did not start: ' + out, None
        try:
            self.p.stdin.write(('{ %s\n} </dev/null; __m %s $?\n' % (code, tag)).encode())
            self.p.stdin.flush()
        except BrokenPipeError:
            pass
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while True:
            text = self.buf.decode('utf-8', 'replace')
            m = MARK_RE.search(text)
            if m:
                self.buf = text[m.end():].encode()
                return text[:m.start()], int(m.group(2))
            left = deadline - time.monotonic()
            r = select.select([fd], [], [], max(left, 0))[0] if left > 0 else []
            chunk = os.read(fd, 65536) if r else b''
            if not chunk:
                self.stop()
                why = 'timed out after %d s' % timeout if left <= 0 or not r else 'the shell died'
                return text + '\n[%s]' % why, None
            self.buf += chunk

    def stop(self):
        if self.p is None:
            return
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        # not communicate(): a process the examples started may hold the pipe open
        self.p.wait()
        self.p.stdin.close()
        self.p.stdout.close()
        self.p = None


def lines_of(text):
    ls = text.split('\n')
    while ls and not ls[-1].strip():
        ls.pop()
    return [l.rstrip() for l in ls]


def run_example(doc, ex, sh):
    """-> (ok, [report lines])"""
    report, ok = [], True
    for k, s in enumerate(ex.setup):
        try:
            code = doc.to_run(s)
        except DocError as e:
            return False, ['setup "%s": %s' % (s, e)]
        text, rc = sh.run(code, 's%d' % k, CMD_TIMEOUT)
        if rc != 0:
            ok = False
            why = 'did not finish' if rc is None else 'exited %d' % rc
            report.append('setup "%s" %s:' % (s, why))
            report += ['    ' + l for l in lines_of(doc.from_run(text))[-15:]]
    for k, (no, cmd, exp) in enumerate(ex.cmds):
        try:
            code = doc.to_run(cmd)
        except DocError as e:
            report.append('line %d: $ %s: %s' % (no, cmd.replace('\n', ' '), e))
            ok = False
            continue
        text, rc = sh.run(code, 'c%d' % k, CMD_TIMEOUT)
        actual = lines_of(doc.from_run(text))
        # a non-zero exit is shown where the text shows no error of sbx's ("sbx: ...")
        if rc and not any(e.strip().startswith('sbx: ') for e in exp):
            actual.append('[exit %d]' % rc)
        expected = list(exp)
        while expected and not expected[-1].strip():
            expected.pop()
        notes = []
        ops = bind(doc, align(doc, expected, actual)[1], notes)
        if any(op[0] in '+-' for op in ops):
            ok = False
            report.append('line %d: $ %s' % (no, cmd.replace('\n', ' ')))
            if code != cmd:
                report.append('  (ran: %s)' % code.replace('\n', ' '))
            report += ['    ' + l for l in render(ops)]
            report += ['  (%s)' % n for n in notes]
    return ok, report


def selftest():
    """The extractor and the comparison on made-up docs and output: no daemon, no world."""
    import tempfile
    bad = []

    def check(name, cond):
        if not cond:
            bad.append(name)

    def same(doc, expected, actual):
        return not any(op[0] in '+-' for op in bind(doc, align(doc, expected, actual)[1], []))

    u1, u2, u3 = (UUID_SAMPLE % c for c in 'abc')
    with tempfile.TemporaryDirectory() as d:
        md, roff, dangling = (os.path.join(d, n) for n in ('a.md', 'a.1', 'b.md'))
        with open(md, 'w') as f:
            f.write('text\n\n```\nconfig = 1\n```\n<!-- example-setup: sbx x -->\n'
                    '- item\n\n  ```\n  $ sbx a \\\n    --long\n  out 1\n\n  out 2\n  ```\n'
                    '<!-- example-skip: why -->\n```\n$ sbx b\n```\n')
        with open(roff, 'w') as f:
            f.write('.SH EXAMPLES\n.\\" example-setup: sbx p \\-q\n.RS\n.nf\n'
                    '$ sbx policy rm \\-\\-id x\nRemoved \\(em \\e\n.fi\n.RE\n')
        with open(dangling, 'w') as f:
            f.write('<!-- example-setup: x -->\n```\nno command\n```\n')
        ex = extract(md)
        check('md_blocks', len(ex) == 2 and ex[0].line == 10 and ex[0].setup == ['sbx x'])
        check('md_continuation', ex[0].cmds[0][1] == 'sbx a \\\n  --long')
        check('md_output', ex[0].cmds[0][2] == ['out 1', '', 'out 2'])
        check('md_skip', ex[1].skip == 'why' and not ex[1].setup)
        ex = extract(roff)
        check('roff', len(ex) == 1 and ex[0].setup == ['sbx p -q'] and
              ex[0].cmds[0][1] == 'sbx policy rm --id x' and ex[0].cmds[0][2] == ['Removed — \\'])
        try:
            extract(dangling)
            check('dangling_annotation', False)
        except DocError:
            pass

    act = {'SBX_STATE_DIR': '/t/state', 'SBX_RUN_DIR': '/t/run', 'SBX_BPF_DIR': '/b/x1',
           'SBX_CONFIG': '/t/c', 'SBX_INSTANCE': 'x1'}
    doc = Doc(act, [('system.slice', 'x1.slice')])
    check('volatile', same(doc, ['dev  running  0   18 seconds ago  14:31:11 23-Nov',
                                 '  pid:   22092', '"created":\t1795441406,',
                                 'Created: 2026-11-23 13:43:26 UTC'],
                           ['dev running 0 just now 09:00:01 02-Dec', 'pid: 7', '"created": 17,',
                            'Created: 2027-01-02 03:04:05 UTC']))
    check('literal_differs', not same(doc, ['10.209.0.2'], ['10.209.0.3']))
    check('blank_line_counts', not same(doc, ['a', '', 'b'], ['a', 'b']))
    check('wildcard', same(doc, ['head', '...', 'tail'], ['head', '1', '2', 'tail']) and
          same(doc, ['head', '…', 'tail'], ['head', 'tail']) and
          not same(doc, ['head', '...', 'tail'], ['head', '1']))
    check('exit_differs', not same(doc, ['x'], ['x', '[exit 1]']))
    check('id_binds', same(doc, ['Added local:%s: x' % u1], ['Added local:%s: x' % u2]) and
          doc.ids == {u1: u2, u1[:8]: u2[:8]})
    check('short_id_known', same(doc, ['Removed local:%s' % u1[:8]], ['Removed local:%s' % u2[:8]])
          and not same(doc, ['Removed local:%s' % u1[:8]], ['Removed local:%s' % u3[:8]]))
    check('short_id_binds', same(doc, ['Added local:ad5fb517: y'], ['Added local:9e0a11c3: y']) and
          doc.ids.get('ad5fb517') == '9e0a11c3')
    check('short_prefix', doc.to_run('sbx policy rm ad5f') == 'sbx policy rm 9e0a' and
          same(doc, ["prefix 'ad5f' matches local:ad5fb517"], ["prefix '9e0a' matches local:9e0a11c3"])
          and doc.to_run('curl :8443') == 'curl :8443')
    check('id_kept', not same(doc, ['Removed rule %s' % u1], ['Removed rule %s' % u3]))
    check('id_one_to_one', not same(doc, ['Removed rule %s' % u3], ['Removed rule %s' % u2]))
    check('id_in_command', doc.to_run('sbx policy inspect %s' % u1[:8]) ==
          'sbx policy inspect %s' % u2[:8] and u2 in doc.to_run('rm --id %s' % u1))
    try:
        doc.to_run('rm --id %s' % u3)
        check('id_unseen', False)
    except DocError:
        pass
    check('paths_in', doc.to_run('socat - UNIX-CONNECT:/run/sbx/sbxd.sock') ==
          'socat - UNIX-CONNECT:/t/run/sbxd.sock')
    check('paths_out', doc.from_run('/sys/fs/cgroup/x1/dev /sys/fs/cgroup/x1.slice/a /b/x1') ==
          '/sys/fs/cgroup/sbx/dev /sys/fs/cgroup/system.slice/a /sys/fs/bpf/sbx')
    doc.to_run('export SBX_RUN_DIR=/tmp/demo/run SBX_INSTANCE=demo1')
    check('export', doc.to_run('export SBX_INSTANCE=demo1') == 'export SBX_INSTANCE=x1' and
          doc.from_run('run: /t/run instance: x1') == 'run: /tmp/demo/run instance: demo1')
    for b in bad:
        print('selftest: %s failed' % b)
    return 1 if bad else 0


def cmd_list(paths):
    for p in paths:
        for ex in extract(p):
            print('%s%s' % (ex.name, '  SKIP: ' + ex.skip if ex.skip else ''))
            for s in ex.setup:
                print('  setup: %s' % s)
            for no, cmd, exp in ex.cmds:
                print('  %d $ %s  (%d lines)' % (no, cmd.replace('\n', ' '), len(exp)))


def cmd_run(argv):
    a = types.SimpleNamespace(prelude=None, cwd=None, shell=None)
    actual, maps = {}, []
    path = argv[0]
    k = 1
    while k < len(argv):
        o = argv[k]
        if o == '--':
            a.shell = argv[k + 1:]
            break
        v = argv[k + 1]
        if o == '--var':
            n, _, val = v.partition('=')
            actual[n] = val
        elif o == '--map':
            d, _, val = v.partition('=')
            maps.append((d, val))
        elif o in ('--prelude', '--cwd'):
            setattr(a, o[2:], v)
        else:
            sys.exit('doc_examples: unknown option %s' % o)
        k += 2
    if not a.shell or sorted(actual) != sorted(Doc.DEFAULTS):
        sys.exit('doc_examples run: needs --var for each of %s and -- SHELL'
                 % ' '.join(sorted(Doc.DEFAULTS)))
    name = os.path.basename(path)
    try:
        examples = extract(path)
    except DocError as e:
        print('FAIL docs.examples.%s: %s' % (name, e))
        return 1
    if not examples:
        print('FAIL docs.examples.%s: no example found (no code block with a "$ " line)' % name)
        return 1
    doc = Doc(actual, maps)
    sh = Shell(a.shell, a.cwd, a.prelude)
    out, rc = sh.start()
    if rc != 0:
        print('FAIL docs.examples.%s: the shell did not start: %s' % (name, out.strip()))
        sh.stop()
        return 1
    counts = {'PASS': 0, 'FAIL': 0, 'SKIP': 0}
    for ex in examples:
        if ex.skip:
            print('SKIP docs.example.%s: %s' % (ex.name, ex.skip))
            counts['SKIP'] += 1
            continue
        ok, report = run_example(doc, ex, sh)
        verdict = 'PASS' if ok else 'FAIL'
        counts[verdict] += 1
        print('%s docs.example.%s%s' % (verdict, ex.name, '' if ok else ': differs from the docs'))
        for l in report:
            print('    | ' + l)
        sys.stdout.flush()
    sh.stop()
    print('%s: %d example%s, %d passed, %d failed, %d skipped'
          % (name, len(examples), 's'[len(examples) == 1:], counts['PASS'], counts['FAIL'],
             counts['SKIP']))
    return 1 if counts['FAIL'] else 0


def main():
    if sys.argv[1:] == ['selftest']:
        return selftest()
    if len(sys.argv) < 3 or sys.argv[1] not in ('list', 'run'):
        sys.exit(__doc__)
    try:
        if sys.argv[1] == 'list':
            cmd_list(sys.argv[2:])
            return 0
        return cmd_run(sys.argv[2:])
    except DocError as e:
        sys.exit('doc_examples: %s' % e)


if __name__ == '__main__':
    sys.exit(main())
