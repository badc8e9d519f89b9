# weft - top-level build.
#
#   make                      bin/weft-collector bin/weft-query bin/weft lib/libweft.{a,so}
#   make test                 unit + integration tests (with -Werror)
#   make SANITIZER=address,undefined test
#   make SANITIZER=thread test
#   make demo                 the quick start: daemons + demo shop + trace in the terminal
#   make install PREFIX=/usr/local
#   make bench-ingest | bench-sdk | bench-query | bench-store | soak | fuzz
#
# Dependency rules (each folder gets only the -I paths it may use):
#   common -> nothing; sdk -> common; storage -> common;
#   collector, query -> storage, common; tools -> sdk's public header only.

CC ?= cc
.DEFAULT_GOAL := all
PREFIX ?= /usr/local
comma := ,

ifeq ($(SANITIZER),)
OUT := .
OBJ := build/obj
SANFLAGS :=
else
OUT := build/san-$(subst $(comma),-,$(SANITIZER))
OBJ := $(OUT)/obj
SANFLAGS := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
BIN := $(OUT)/bin
LIB := $(OUT)/lib
TBIN := $(OUT)/build/tests

OPT ?= -O2 -g
WARN := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Wwrite-strings
ifneq ($(filter test check,$(MAKECMDGOALS)),)
WARN += -Werror
endif
CFLAGS_ALL = $(OPT) $(WARN) $(SANFLAGS) -fPIC -MMD -MP $(CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

DEPS_STAMP := build/.deps-ok

LIBS_SDK := -lmbedtls -lmbedx509 -lmbedcrypto -lzstd -lpthread
LIBS_STORE := -lrocksdb -lzstd -lpthread
LIBS_HTTP := -lmicrohttpd -ljansson -lgnutls
LIBS_INGEST := -lprotobuf-c -lz

# ---- sources ----
COMMON_SRC := $(wildcard common/*.c)
SDK_SRC := $(wildcard sdk/*.c)
STORAGE_SRC := $(wildcard storage/*.c)
COLLECTOR_SRC := $(filter-out collector/collector_main.c,$(wildcard collector/*.c))
QUERY_SRC := $(filter-out query/query_main.c query/cli_main.c,$(wildcard query/*.c))

obj = $(patsubst %.c,$(OBJ)/%.o,$(1))

# OTLP protobuf messages, generated from collector/proto/ with protoc-c.
GEN := build/gen
PROTO_C := $(GEN)/otlp_trace.pb-c.c
PROTO_O := $(OBJ)/gen/otlp_trace.pb-c.o
$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: collector/proto/%.proto $(DEPS_STAMP)
	@mkdir -p $(GEN)
	cd collector/proto && protoc-c --c_out=$(abspath $(GEN)) $*.proto
$(PROTO_O): $(PROTO_C)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) $(SANFLAGS) -fPIC -I$(GEN) $(CFLAGS) -c $< -o $@

$(OBJ)/common/%.o: CPPFLAGS_DIR := -Icommon
$(OBJ)/sdk/%.o: CPPFLAGS_DIR := -Icommon -Isdk -fvisibility=hidden -DWEFT_BUILDING
$(OBJ)/storage/%.o: CPPFLAGS_DIR := -Icommon -Istorage
$(OBJ)/collector/%.o: CPPFLAGS_DIR := -Icommon -Istorage -Icollector -I$(GEN)
$(call obj,$(COLLECTOR_SRC) collector/collector_main.c): | $(GEN)/otlp_trace.pb-c.h
$(OBJ)/query/%.o: CPPFLAGS_DIR := -Icommon -Istorage -Iquery
$(OBJ)/tools/%.o: CPPFLAGS_DIR := -Isdk -I$(GEN)
$(OBJ)/tools/bench/bench_store.o: CPPFLAGS_DIR := -Icommon -Istorage
$(OBJ)/tools/loadgen/loadgen.o: | $(GEN)/otlp_trace.pb-c.h
$(OBJ)/tests/%.o: CPPFLAGS_DIR := -Icommon -Isdk -Istorage -Icollector -Iquery -Itests/integration -I$(GEN)
$(call obj,$(wildcard tests/*/*.c)): | $(GEN)/otlp_trace.pb-c.h

$(OBJ)/%.o: %.c $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CPPFLAGS_DIR) -c $< -o $@

# Internal archives; libweft.a is the SDK and common for users.
A_COMMON := $(OBJ)/libcommon.a
A_SDK := $(OBJ)/libsdk.a
A_STORAGE := $(OBJ)/libstorage.a
A_COLLECTOR := $(OBJ)/libcollector.a
A_QUERY := $(OBJ)/libquery.a

$(A_COMMON): $(call obj,$(COMMON_SRC))
$(A_SDK): $(call obj,$(SDK_SRC))
$(A_STORAGE): $(call obj,$(STORAGE_SRC))
$(A_COLLECTOR): $(call obj,$(COLLECTOR_SRC)) $(PROTO_O)
$(A_QUERY): $(call obj,$(QUERY_SRC))
$(OBJ)/lib%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIB)/libweft.a: $(call obj,$(SDK_SRC) $(COMMON_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIB)/libweft.so: $(call obj,$(SDK_SRC) $(COMMON_SRC)) sdk/libweft.map
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libweft.so.1 -Wl,--version-script=sdk/libweft.map -o $@ $(filter %.o,$^) $(LDFLAGS_ALL) $(LIBS_SDK)
$(LIB)/weft.h: sdk/weft.h
	@mkdir -p $(dir $@)
	cp $< $@

$(BIN)/weft-collector: $(OBJ)/collector/collector_main.o $(A_COLLECTOR) $(A_STORAGE) $(A_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lnng $(LIBS_HTTP) $(LIBS_INGEST) $(LIBS_STORE) $(LIBS_SDK)
$(BIN)/weft-query: $(OBJ)/query/query_main.o $(A_QUERY) $(A_STORAGE) $(A_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LIBS_HTTP) $(LIBS_STORE)
$(BIN)/weft: $(OBJ)/query/cli_main.o $(A_QUERY) $(A_STORAGE) $(A_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LIBS_HTTP) $(LIBS_STORE)
$(BIN)/weft-demo-shop: $(OBJ)/tools/demo/shop.o $(LIB)/libweft.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lnng $(LIBS_SDK)

$(BIN)/weft-loadgen: $(OBJ)/tools/loadgen/loadgen.o $(PROTO_O) $(LIB)/libweft.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lprotobuf-c $(LIBS_SDK)

$(BIN)/weft-tracecontext-service: $(OBJ)/tools/tracecontext/service.o $(LIB)/libweft.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LIBS_HTTP) $(LIBS_SDK)

$(BIN)/weft-bench-sdk: $(OBJ)/tools/bench/bench_sdk.o $(LIB)/libweft.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LIBS_SDK)

$(BIN)/weft-bench-query: $(OBJ)/tools/bench/bench_query.o
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL)

$(BIN)/weft-bench-probe: $(OBJ)/tools/bench/bench_probe.o
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL)
$(BIN)/weft-bench-store: $(OBJ)/tools/bench/bench_store.o $(A_STORAGE) $(A_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LIBS_STORE)

PROGRAMS := $(BIN)/weft-bench-probe $(BIN)/weft-bench-query $(BIN)/weft-bench-sdk $(BIN)/weft-bench-store $(BIN)/weft-collector $(BIN)/weft-query $(BIN)/weft \
	$(BIN)/weft-demo-shop $(BIN)/weft-loadgen $(BIN)/weft-tracecontext-service
LIBRARIES := $(LIB)/libweft.a $(LIB)/libweft.so $(LIB)/weft.h

# ---- tests ----
UNIT_SRC := $(wildcard tests/unit/test_*.c)
INTEG_SRC := $(wildcard tests/integration/test_*.c)
HARNESS_OBJ := $(call obj,tests/integration/harness.c)
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAYS := $(patsubst %,$(TBIN)/fuzz_%_replay,$(FUZZ_TARGETS))
TESTS := $(patsubst tests/unit/%.c,$(TBIN)/%,$(UNIT_SRC)) \
	$(patsubst tests/integration/%.c,$(TBIN)/%,$(INTEG_SRC)) $(FUZZ_REPLAYS)
TEST_LIBS := $(A_QUERY) $(A_COLLECTOR) $(A_STORAGE) $(A_SDK) $(A_COMMON)

$(TBIN)/test_%: $(OBJ)/tests/unit/test_%.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lcmocka -lmsgpackc -lnng $(LIBS_HTTP) $(LIBS_INGEST) $(LIBS_STORE) $(LIBS_SDK)
$(TBIN)/fuzz_%_replay: $(OBJ)/tests/fuzz/fuzz_%.o $(OBJ)/tests/fuzz/regression_driver.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lnng $(LIBS_HTTP) $(LIBS_INGEST) $(LIBS_STORE) $(LIBS_SDK)

# make fuzz [FUZZ_SECONDS=60]: each target under libFuzzer (clang, ASan+UBSan);
# new inputs are saved in tests/fuzz/corpus/<target>, which make test replays.
FUZZ_SECONDS ?= 60
FUZZ_OUT := build/san-fuzzer-no-link-address-undefined
fuzz:
	@bash scripts/deps.sh fuzz
	$(MAKE) CC=clang SANITIZER=fuzzer-no-link,address,undefined \
		$(patsubst %,$(FUZZ_OUT)/build/fuzz/fuzz_%,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		echo "== fuzz_$$t for $(FUZZ_SECONDS)s"; \
		mkdir -p tests/fuzz/corpus/$$t; \
		$(FUZZ_OUT)/build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=tests/fuzz/crash-$$t- tests/fuzz/corpus/$$t $(FIXTURES) 2>&1 | tail -4 || exit 1; \
	done
$(OUT)/build/fuzz/fuzz_%: $(OBJ)/tests/fuzz/fuzz_%.o $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer -o $@ $^ $(LDFLAGS_ALL) -lnng $(LIBS_HTTP) $(LIBS_INGEST) $(LIBS_STORE) $(LIBS_SDK)

$(TBIN)/test_%: $(OBJ)/tests/integration/test_%.o $(HARNESS_OBJ) $(TEST_LIBS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lcmocka -lnng $(LIBS_HTTP) $(LIBS_INGEST) $(LIBS_STORE) $(LIBS_SDK)

.PHONY: all deps test check demo install clean bench-ingest bench-sdk bench-query bench-store fuzz soak
# Test objects are intermediates of pattern rules; keep them for incremental builds.
.SECONDARY:
all: $(PROGRAMS) $(LIBRARIES)

$(DEPS_STAMP): scripts/deps.sh
	@bash scripts/deps.sh
	@mkdir -p $(dir $@) && touch $@
deps: $(DEPS_STAMP)

# Byte-identical copies of the workspace's shared/fixtures (captured requests; never
# edited), kept in the repository so a clean checkout alone runs every test.
FIXTURES ?= $(abspath tests/fixtures)

test check: all $(TESTS)
	@WEFT_BIN=$(abspath $(BIN)) WEFT_FIXTURES=$(FIXTURES) WEFT_FUZZ_CORPUS=$(abspath tests/fuzz/corpus) TSAN_OPTIONS="suppressions=$(abspath tests/tsan.supp) die_after_fork=0 $(TSAN_OPTIONS)" \
		bash scripts/run-tests.sh $(TESTS)

demo: all
	@WEFT_BIN=$(abspath $(BIN)) bash scripts/demo.sh

bench-ingest: all
	@WEFT_BIN=$(abspath $(BIN)) bash scripts/bench-ingest.sh

bench-sdk: all
	@WEFT_BIN=$(abspath $(BIN)) bash scripts/bench-sdk.sh

# make soak [SOAK_SECONDS=600]: mixed load; fails on errors or memory growth after warm-up
soak: all
	@WEFT_BIN=$(abspath $(BIN)) bash scripts/soak.sh

bench-query: all
	@WEFT_BIN=$(abspath $(BIN)) bash scripts/bench-query.sh

bench-store: all
	@WEFT_BIN=$(abspath $(BIN)) bash scripts/bench-store.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 755 $(BIN)/weft-collector $(BIN)/weft-query $(BIN)/weft $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIB)/libweft.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIB)/libweft.so $(DESTDIR)$(PREFIX)/lib/libweft.so.1
	ln -sf libweft.so.1 $(DESTDIR)$(PREFIX)/lib/libweft.so
	install -m 644 sdk/weft.h $(DESTDIR)$(PREFIX)/include/

clean:
	rm -rf build bin lib

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
