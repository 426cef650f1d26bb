# Every third-party dependency comes from a Debian package (scripts/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(msgpack CONFIG REQUIRED)  # Debian's msgpack-cxx 4.1 names its config "msgpack"
find_package(yaml-cpp CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
if(CLUSTERD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(CLUSTERD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()

# asio is header-only and standalone (libasio-dev).
add_library(clusterd_asio INTERFACE)
target_compile_definitions(clusterd_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
target_link_libraries(clusterd_asio INTERFACE Threads::Threads)
# asio 1.22 only detects C++20 coroutines on clang with libc++; with libstdc++ <coroutine> works too.
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  target_compile_definitions(clusterd_asio INTERFACE ASIO_HAS_CO_AWAIT=1 ASIO_HAS_STD_COROUTINE=1)
endif()

# msgpack-cxx without boost.
add_library(clusterd_msgpack INTERFACE)
if(TARGET msgpack-cxx)
  target_link_libraries(clusterd_msgpack INTERFACE msgpack-cxx)
else()
  target_link_libraries(clusterd_msgpack INTERFACE msgpackc-cxx)
endif()
target_compile_definitions(clusterd_msgpack INTERFACE MSGPACK_NO_BOOST)
