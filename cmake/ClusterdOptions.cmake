# Warnings and sanitizers for every clusterd target (third-party headers are SYSTEM).
set(CLUSTERD_WARNINGS -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # g++ 12 emits false positives inside libstdc++/asio headers under -O2.
  list(APPEND CLUSTERD_WARNINGS -Wno-maybe-uninitialized -Wno-stringop-overflow -Wno-array-bounds)
  if(CLUSTERD_SANITIZE)
    # With ASan, g++ 12 misreads asio's awaitable frame operator new/delete pair as mismatched.
    list(APPEND CLUSTERD_WARNINGS -Wno-mismatched-new-delete)
  endif()
endif()

if(CLUSTERD_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(CLUSTERD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CLUSTERD_FUZZ needs clang (libFuzzer)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

# The lean release binary (CLUSTERD_LEAN_BINARY, cmake/ClusterdDeps.cmake) places every
# function in its own section so the linker can drop unused ones and pack the ones an agent
# runs (bench/lean/clusterd.order) into few pages.
if(NOT CLUSTERD_SANITIZE)
  add_compile_options(-ffunction-sections -fdata-sections)
endif()
