# Every third-party dependency comes from a Debian package (scripts/setup.sh installs them).
# The default release binary is built the way Debian builds daemons (CLUSTERD_HARDEN below):
# PIE, RELRO + BIND_NOW, stack protector, FORTIFY, system libraries linked dynamically, so ASLR
# covers the code that parses untrusted packets and a libssl/libyaml-cpp security update on the
# host reaches clusterd. It also lets valgrind memcheck replace malloc (the stress test).
option(CLUSTERD_LEAN_BINARY
       "Static, non-PIE clusterd with libcrypto/yaml-cpp/libstdc++ linked in (about 4 MiB less VmRSS per process, mostly shared clean pages; no ASLR for the binary, no library security updates): for measurements only"
       OFF)
option(CLUSTERD_HARDEN "Debian's hardening flags on every target (PIE, RELRO/BIND_NOW, stack protector, FORTIFY)" ON)
if(CLUSTERD_SANITIZE)
  set(CLUSTERD_LEAN_BINARY OFF)
endif()
if(CLUSTERD_HARDEN AND NOT CLUSTERD_LEAN_BINARY AND NOT CLUSTERD_SANITIZE)
  # What dpkg-buildflags gives with hardening=+all (the sanitizer trees check differently).
  set(CMAKE_POSITION_INDEPENDENT_CODE ON)
  add_compile_options(-fPIE -fstack-protector-strong -fstack-clash-protection -Wformat -Werror=format-security
                      -fcf-protection)
  add_compile_definitions(_FORTIFY_SOURCE=2)
  add_link_options(-pie -Wl,-z,relro -Wl,-z,now)
endif()

find_package(Threads REQUIRED)
if(CLUSTERD_LEAN_BINARY)
  set(OPENSSL_USE_STATIC_LIBS TRUE)
endif()
find_package(OpenSSL REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
# Abseil's B-tree and flat hash tables hold the broadcast queues (issue 19, docs/performance.md).
find_package(absl CONFIG REQUIRED)
if(CLUSTERD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(CLUSTERD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()

# asio is header-only and standalone (libasio-dev).
add_library(clusterd_asio INTERFACE)
# ASIO_DISABLE_STD_ALIGNED_ALLOC: asio 1.22 picks aligned_alloc/free or operator new/delete for
# its handler memory by whether a libstdc++ header was included before asio's config, so two
# translation units could disagree (memory from operator new released with free: ASan's
# alloc-dealloc-mismatch in the g++ tree). One choice for every translation unit.
target_compile_definitions(clusterd_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED ASIO_DISABLE_STD_ALIGNED_ALLOC)
target_link_libraries(clusterd_asio INTERFACE Threads::Threads)
# asio 1.22 only detects C++20 coroutines on clang with libc++; with libstdc++ <coroutine> works too.
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  target_compile_definitions(clusterd_asio INTERFACE ASIO_HAS_CO_AWAIT=1 ASIO_HAS_STD_COROUTINE=1)
endif()

# http-parser (the etcd adapter's HTTP/1.1 answers): libhttp-parser-dev ships no pkg-config
# file, so the header and the library (the static archive in the lean, static build).
find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h REQUIRED)
if(CLUSTERD_LEAN_BINARY)
  find_library(HTTP_PARSER_LIBRARY NAMES libhttp_parser.a http_parser REQUIRED)
else()
  find_library(HTTP_PARSER_LIBRARY NAMES http_parser REQUIRED)
endif()
add_library(clusterd_http_parser INTERFACE)
target_include_directories(clusterd_http_parser SYSTEM INTERFACE ${HTTP_PARSER_INCLUDE_DIR})
target_link_libraries(clusterd_http_parser INTERFACE ${HTTP_PARSER_LIBRARY})

# RE2 (libre2-dev): Go's regexp syntax for Serf's member and query filters (src/regex). One
# name for the shared library, or the static archive in the lean, static build.
add_library(clusterd_re2 INTERFACE)
if(CLUSTERD_LEAN_BINARY)
  find_library(RE2_LIBRARY NAMES libre2.a re2 REQUIRED)
  target_link_libraries(clusterd_re2 INTERFACE ${RE2_LIBRARY} Threads::Threads)
else()
  find_library(RE2_LIBRARY NAMES re2 REQUIRED)
  target_link_libraries(clusterd_re2 INTERFACE ${RE2_LIBRARY})
endif()
find_path(RE2_INCLUDE_DIR re2/re2.h REQUIRED)
target_include_directories(clusterd_re2 SYSTEM INTERFACE ${RE2_INCLUDE_DIR})

# yaml-cpp and spdlog (+fmt) behind one name each, so the lean build can swap the shared
# libraries for the static archive / header-only forms Debian also ships.
add_library(clusterd_yaml INTERFACE)
add_library(clusterd_spdlog INTERFACE)
find_library(CLUSTERD_YAML_STATIC NAMES libyaml-cpp.a)
if(CLUSTERD_LEAN_BINARY AND CLUSTERD_YAML_STATIC)
  get_target_property(_yaml_inc yaml-cpp INTERFACE_INCLUDE_DIRECTORIES)
  target_include_directories(clusterd_yaml SYSTEM INTERFACE ${_yaml_inc})
  target_link_libraries(clusterd_yaml INTERFACE ${CLUSTERD_YAML_STATIC})
else()
  target_link_libraries(clusterd_yaml INTERFACE yaml-cpp)
endif()
if(CLUSTERD_LEAN_BINARY)
  # spdlog and fmt compiled into the one translation unit that logs (src/agent/log.cpp).
  get_target_property(_spdlog_inc spdlog::spdlog_header_only INTERFACE_INCLUDE_DIRECTORIES)
  get_target_property(_fmt_inc fmt::fmt-header-only INTERFACE_INCLUDE_DIRECTORIES)
  target_include_directories(clusterd_spdlog SYSTEM INTERFACE ${_spdlog_inc} ${_fmt_inc})
  target_compile_definitions(clusterd_spdlog INTERFACE SPDLOG_FMT_EXTERNAL FMT_HEADER_ONLY=1)
else()
  target_link_libraries(clusterd_spdlog INTERFACE spdlog::spdlog)
endif()
