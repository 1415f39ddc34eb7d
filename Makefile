# SPDX-License-Identifier: MIT
# sbx build: the CLI (build/sbx), the daemon (build/sbxd), the eBPF objects and their skeletons.
#   make            build everything          make test     deps + build + every test
#   make demo       deps + build + demo        make install  PREFIX=/usr/local DESTDIR=
#                   (install, as root with DESTDIR empty, also creates the system group sbx)
#   make SAN=1 ...  ASan+UBSan build in build/san      V=1 shows the commands
#   make fuzz FUZZ_SECONDS=N   run each fuzz target for N seconds (default 60)

.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/')

ifeq ($(SAN),1)
BUILD    ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD    ?= build
SANFLAGS :=
endif

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

LIBS_PC  := libbpf libelf zlib libcjson libcrypto libssl libnl-3.0 libnl-route-3.0 yaml-0.1 libseccomp
PC_CFLAGS := $(shell pkg-config --cflags $(LIBS_PC) 2>/dev/null)
PC_LIBS   := $(shell pkg-config --libs $(LIBS_PC) 2>/dev/null)

CFLAGS   ?= -O2 -g
BASE_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-Wformat=2 -Wno-format-truncation -Wmissing-prototypes -D_GNU_SOURCE -Iinclude $(PC_CFLAGS)
override CFLAGS += $(BASE_CFLAGS) $(SANFLAGS) -MMD -MP
# The daemon's libraries and what links them see user/ and the skeletons; the CLI sees only
# the public headers in include/sbx/ (tests/cli/headers.sh checks it).
USER_INC := -Iuser -I$(BUILD)
override LDFLAGS += $(SANFLAGS)
LDLIBS   := $(PC_LIBS) -lpthread

VMLINUX_H ?=
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

LIB_SRCS  := $(filter-out user/sbxd.c,$(wildcard user/*.c))
LIB_OBJS  := $(patsubst user/%.c,$(BUILD)/user/%.o,$(LIB_SRCS)) $(BUILD)/user/defaults_data.o
CLI_OBJS  := $(patsubst cli/%.c,$(BUILD)/cli/%.o,$(wildcard cli/*.c))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))
DEFAULTS  := $(sort $(wildcard data/defaults/*.list))

.PHONY: all deps test unit demo install uninstall clean bench fuzz fuzz-bins
all: $(BUILD)/sbx $(BUILD)/sbxd $(UNIT_BINS) $(BENCH_BINS) $(TOOL_BINS)

deps:
	$(Q)scripts/deps.sh

# vmlinux.h comes from the running kernel's BTF unless VMLINUX_H names one.
$(BUILD)/vmlinux.h:
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
ifneq ($(VMLINUX_H),)
	$(Q)cp $(VMLINUX_H) $@
else
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@
endif

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BUILD)/vmlinux.h $(wildcard bpf/lib/*.h include/sbx/*.h)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -Wall -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude -Ibpf -I$(BUILD) \
		-c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(BUILD)/user/defaults_data.c: $(DEFAULTS) scripts/embed-defaults.sh
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)scripts/embed-defaults.sh $(DEFAULTS) > $@

$(BUILD)/user/defaults_data.o: $(BUILD)/user/defaults_data.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(USER_INC) -c $< -o $@

# User objects may include any skeleton, so they wait for all of them.
$(BUILD)/user/%.o: user/%.c $(BPF_SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(USER_INC) -c $< -o $@

$(BUILD)/cli/%.o: cli/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libsbx.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/sbxd: $(BUILD)/user/sbxd.o $(BUILD)/libsbx.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/sbx: $(CLI_OBJS) $(BUILD)/libsbx.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/test.h $(BUILD)/libsbx.a
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(USER_INC) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libsbx.a $(LDLIBS)

# Test tools run inside sandboxes: static, so they need nothing from the sandbox's view.
$(BUILD)/tests/tools/%: tests/tools/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

# nounshare runs on the host, never in a sandbox: libseccomp builds its filter.
$(BUILD)/tests/tools/nounshare: tests/tools/nounshare.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $< -lseccomp

$(BUILD)/bench/%: bench/%.c $(BUILD)/libsbx.a
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(USER_INC) $(LDFLAGS) -o $@ $< $(BUILD)/libsbx.a $(LDLIBS)

# ---- fuzzing ---------------------------------------------------------------------------------
# Each tests/fuzz/fuzz_*.c is a libFuzzer target, linked against the user library compiled
# again with clang, coverage and ASan+UBSan. Where clang's libFuzzer runtime is missing
# (libclang-rt-dev, see scripts/deps.sh) the same targets are built with $(CC), ASan+UBSan and
# a driver that replays the corpus in tests/fuzz/corpus/, so the corpus still runs as a
# regression test. Each mode builds in its own directory.
FUZZ_SECONDS ?= 60
FUZZ_PROBE := echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' | \
	$(CLANG) -x c -fsanitize=fuzzer,address,undefined - -o /dev/null 2>/dev/null
ifneq ($(filter fuzz fuzz-bins,$(MAKECMDGOALS)),)
FUZZ_MODE ?= $(shell $(FUZZ_PROBE) && echo libfuzzer || echo replay)
endif
FUZZ_MODE ?= libfuzzer
FUZZ_DIR   := $(BUILD)/fuzz/$(FUZZ_MODE)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_OBJS  := $(patsubst user/%.c,$(FUZZ_DIR)/user/%.o,$(LIB_SRCS)) $(FUZZ_DIR)/user/defaults_data.o
ifeq ($(FUZZ_MODE),libfuzzer)
FUZZ_CC    := $(CLANG)
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_LIBCF := $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Wno-unknown-warning-option
FUZZ_LINK  := $(FUZZ_SAN) -fsanitize=fuzzer
FUZZ_MAIN  :=
else
FUZZ_CC    := $(CC)
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_LIBCF := $(FUZZ_SAN)
FUZZ_LINK  := $(FUZZ_SAN)
FUZZ_MAIN  := tests/fuzz/replay.c
endif
FUZZ_CFLAGS := -g -O1 $(BASE_CFLAGS) $(USER_INC) $(FUZZ_LIBCF) -MMD -MP

$(FUZZ_DIR)/user/%.o: user/%.c $(BPF_SKELS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/user/defaults_data.o: $(BUILD)/user/defaults_data.c
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/libsbx.a: $(FUZZ_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_MAIN) $(FUZZ_DIR)/libsbx.a
	$(call msg,FUZZLD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_LINK) -o $@ $< $(FUZZ_MAIN) $(FUZZ_DIR)/libsbx.a \
		$(LDLIBS)

fuzz-bins: $(FUZZ_BINS)

# Each target for FUZZ_SECONDS (a replay build: once through its corpus); PASS/FAIL per target.
fuzz: fuzz-bins
	$(Q)tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

unit: all
	$(Q)BUILD=$(BUILD) tests/run.sh --unit

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) tests/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/demo.sh

bench: all
	$(Q)scripts/deps.sh --bench
	$(Q)$(BUILD)/bench/policy
	$(Q)BUILD=$(BUILD) bench/proxy.sh

install: $(BUILD)/sbx $(BUILD)/sbxd
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(BUILD)/sbx $(DESTDIR)$(PREFIX)/bin/sbx
	install -m 0755 $(BUILD)/sbxd $(DESTDIR)$(PREFIX)/sbin/sbxd
	install -m 0644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
ifeq ($(DESTDIR),)
	$(Q)if [ "$$(id -u)" = 0 ] && ! getent group sbx >/dev/null; then \
		groupadd --system sbx && \
		echo "created the system group sbx (for 'group = sbx' in sbxd.conf; see sbxd(8))"; \
	fi
endif

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/sbx $(DESTDIR)$(PREFIX)/sbin/sbxd
	cd man && for m in *.1; do rm -f $(DESTDIR)$(PREFIX)/share/man/man1/$$m; done
	cd man && for m in *.8; do rm -f $(DESTDIR)$(PREFIX)/share/man/man8/$$m; done

clean:
	rm -rf build

-include $(wildcard $(BUILD)/user/*.d $(BUILD)/cli/*.d $(BUILD)/tests/*.d $(BUILD)/bench/*.d \
	$(FUZZ_DIR)/user/*.d $(FUZZ_DIR)/*.d)
