# SPDX-License-Identifier: MIT
#
# Installation, the ABI record and the packaging checks. Included by the top
# Makefile (-include mk/*.mk) before its rules.
#
#   make install   [PREFIX=/usr/local] [DESTDIR=] [LIBDIR=] [INCLUDEDIR=] [BINDIR=]
#                  [MANDIR=] [PKGCONFIGDIR=]
#   make uninstall (same variables): removes exactly what install put there
#   make abi-check     exported symbols of librseqkit.so vs abi/librseqkit.symbols
#   make abi-update    accept the current exports as the new record
#   make check-man     lint every man page (mandoc, groff -ww, man -l)
#   make check-install install into a temporary DESTDIR, build and run every
#                      example against the installed library with pkg-config,
#                      lint the man pages, check the ABI record, checkpatch the
#                      kernel series, uninstall (part of `make check`)

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL ?= install
LDCONFIG ?= ldconfig
# Without DESTDIR, as root: refresh the loader cache and man -k's database.
MANDB ?= mandb

# librseqkit.so.0.1.0 for VERSION 0.1.0 and SOVERSION 0 (the SONAME is
# librseqkit.so.$(SOVERSION), set by the top Makefile).
LIB_SONAME := librseqkit.so.$(SOVERSION)
LIB_REALNAME := $(LIB_SONAME).$(or $(word 2,$(subst ., ,$(VERSION))),0).$(or $(word 3,$(subst ., ,$(VERSION))),0)

# Only rseqkit_* leave the shared library, with a symbol version.
LIB_MAP := src/librseqkit.map
LIB_SO_LDFLAGS += -Wl,--version-script=$(LIB_MAP)
LIB_SO_DEPS += $(LIB_MAP)

INSTALL_HEADERS := $(sort $(shell find include/rseqkit -name '*.h' 2>/dev/null))
MAN_PAGES := $(sort $(wildcard doc/man/man[1-8]/*.[1-8]))

# pkg-config paths relative to ${prefix} when they are below it (relocatable).
PC_LIBDIR := $(patsubst $(PREFIX)/%,$${exec_prefix}/%,$(LIBDIR))
PC_INCLUDEDIR := $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))

ABI_RECORD := abi/librseqkit.symbols

# `make check` runs the packaging checks after the host tests.
CHECK_TARGETS += check-install

HELP_EXTRA += \
	'  make install [PREFIX=/usr/local DESTDIR= LIBDIR= ...]  install library, headers,' \
	'                                 pkg-config file, command, man pages (make uninstall)' \
	'  make check-install             install to a temp DESTDIR; examples via pkg-config,' \
	'                                 man page lint, ABI record, checkpatch of the series' \
	'  make abi-check | abi-update    compare / accept the exported symbols ($(ABI_RECORD))' \
	'  make check-man                 lint the man pages'

.PHONY: install uninstall abi-check abi-update check-install check-man

$(O)/librseqkit.pc: src/librseqkit.pc.in FORCE
	@mkdir -p $(@D)
	@sed -e 's|@prefix@|$(PREFIX)|' -e 's|@libdir@|$(PC_LIBDIR)|' \
		-e 's|@includedir@|$(PC_INCLUDEDIR)|' -e 's|@version@|$(VERSION)|' \
		$< > $@.tmp && mv $@.tmp $@

.PHONY: FORCE
FORCE:

install: lib tools $(O)/librseqkit.pc
	@set -e; \
	for h in $(INSTALL_HEADERS:include/%=%); do \
		$(INSTALL) -D -m 644 include/$$h '$(DESTDIR)$(INCLUDEDIR)'/$$h; \
	done; \
	$(INSTALL) -d '$(DESTDIR)$(LIBDIR)' '$(DESTDIR)$(PKGCONFIGDIR)' '$(DESTDIR)$(BINDIR)'; \
	$(INSTALL) -m 755 $(O)/lib/librseqkit.so '$(DESTDIR)$(LIBDIR)/$(LIB_REALNAME)'; \
	ln -sfn $(LIB_REALNAME) '$(DESTDIR)$(LIBDIR)/$(LIB_SONAME)'; \
	ln -sfn $(LIB_SONAME) '$(DESTDIR)$(LIBDIR)/librseqkit.so'; \
	$(INSTALL) -m 644 $(O)/lib/librseqkit.a '$(DESTDIR)$(LIBDIR)/librseqkit.a'; \
	$(INSTALL) -m 644 $(O)/librseqkit.pc '$(DESTDIR)$(PKGCONFIGDIR)/librseqkit.pc'; \
	$(INSTALL) -m 755 $(O)/bin/rseqkit '$(DESTDIR)$(BINDIR)/rseqkit'; \
	for m in $(MAN_PAGES:doc/man/%=%); do \
		$(INSTALL) -D -m 644 doc/man/$$m '$(DESTDIR)$(MANDIR)'/$$m; \
	done; \
	if [ -z '$(DESTDIR)' ] && [ "$$(id -u)" = 0 ]; then \
		! command -v $(LDCONFIG) >/dev/null || $(LDCONFIG); \
		! command -v $(MANDB) >/dev/null || $(MANDB) -q 2>/dev/null || true; \
	fi; \
	echo "installed rseqkit $(VERSION) into $(DESTDIR)$(PREFIX):"; \
	echo "  $(words $(INSTALL_HEADERS)) headers in $(DESTDIR)$(INCLUDEDIR)/rseqkit"; \
	echo "  $(LIB_REALNAME) (SONAME $(LIB_SONAME)), librseqkit.a in $(DESTDIR)$(LIBDIR)"; \
	echo "  librseqkit.pc in $(DESTDIR)$(PKGCONFIGDIR)"; \
	echo "  rseqkit in $(DESTDIR)$(BINDIR), $(words $(MAN_PAGES)) man pages in $(DESTDIR)$(MANDIR)"

uninstall:
	@set -e; \
	for h in $(INSTALL_HEADERS:include/%=%); do rm -f '$(DESTDIR)$(INCLUDEDIR)'/$$h; done; \
	for d in $(shell printf '%s\n' $(sort $(dir $(INSTALL_HEADERS:include/%=%))) | sort -r); do \
		rmdir '$(DESTDIR)$(INCLUDEDIR)'/$$d 2>/dev/null || true; \
	done; \
	rm -f '$(DESTDIR)$(LIBDIR)/$(LIB_REALNAME)' '$(DESTDIR)$(LIBDIR)/$(LIB_SONAME)' \
		'$(DESTDIR)$(LIBDIR)/librseqkit.so' '$(DESTDIR)$(LIBDIR)/librseqkit.a' \
		'$(DESTDIR)$(PKGCONFIGDIR)/librseqkit.pc' '$(DESTDIR)$(BINDIR)/rseqkit'; \
	for m in $(MAN_PAGES:doc/man/%=%); do rm -f '$(DESTDIR)$(MANDIR)'/$$m; done; \
	if [ -z '$(DESTDIR)' ] && [ "$$(id -u)" = 0 ]; then \
		! command -v $(LDCONFIG) >/dev/null || $(LDCONFIG); \
		! command -v $(MANDB) >/dev/null || $(MANDB) -q 2>/dev/null || true; \
	fi; \
	echo "uninstalled rseqkit from $(DESTDIR)$(PREFIX)"

# --- checks ------------------------------------------------------------------
CHECK_INSTALL_ENV = O='$(O)' MAKE='$(MAKE)' CC='$(CC)' VERSION='$(VERSION)' V='$(V)' \
	SOVERSION='$(SOVERSION)' LIB_REALNAME='$(LIB_REALNAME)' ABI_RECORD='$(ABI_RECORD)'

abi-check: $(O)/lib/librseqkit.so
	@$(CHECK_INSTALL_ENV) mk/check-install.sh abi-check

abi-update: $(O)/lib/librseqkit.so
	@abi/list-symbols $(O)/lib/librseqkit.so > $(ABI_RECORD).tmp && mv $(ABI_RECORD).tmp $(ABI_RECORD)
	@echo "abi-update: $(ABI_RECORD) now lists $$(grep -vc '^#\|^SONAME' $(ABI_RECORD)) symbols; commit it"

check-man:
	@$(CHECK_INSTALL_ENV) mk/check-install.sh man

check-install: lib tools
	@$(CHECK_INSTALL_ENV) mk/check-install.sh all
