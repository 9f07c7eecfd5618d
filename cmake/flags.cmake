# Compiler flags shared by every target, and the helpers that turn a target
# into freestanding code (the hypervisor, guest-kit and domains).

# __FILE__ relative to the source tree: assertion and panic messages do not
# grow with the checkout's path (a 150-character checkout made
# guestkit_libc_assert's line wrap on the console, and its check missed it).
add_compile_options(-fmacro-prefix-map=${PROJECT_SOURCE_DIR}/=)

set(HV_WARNINGS
    -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes
    -Wpointer-arith -Wvla -Wno-unused-parameter)

# Implicit conversions that change a value or its sign are errors in the
# hypervisor (HV_KERNEL_CFLAGS), lib/, guest-kit's runtime and every guest
# this tree builds: domains, examples, test guests (add_guest).
set(HV_CONVERSION_WARNINGS -Wconversion -Wsign-conversion)

# Code that runs in the hypervisor: ring 0, higher half, no SSE, no red zone.
set(HV_KERNEL_CFLAGS
    -ffreestanding -fno-builtin -fno-stack-protector -fno-pic -fno-pie
    -fno-omit-frame-pointer -fno-strict-aliasing -fno-common
    -mcmodel=kernel -mno-red-zone -mgeneral-regs-only
    -fcf-protection=none -fno-asynchronous-unwind-tables ${HV_CONVERSION_WARNINGS})

# Code that runs in a domain (ring 3). No red zone because the hypervisor may
# push a bounce frame on the guest stack. General registers only: domains have
# no floating point (nor has the libc subset); the hypervisor does keep each
# VCPU's FPU/SSE state across switches (arch_vcpu's FXSAVE image, test
# smp_sched_fpu), so this is a choice, not a limit.
# One section per function and object, so that a domain links only the
# parts of the catalog codec (and of guest-kit) it uses (--gc-sections in
# HV_GUEST_GC_LDFLAGS), and debug sections compressed: images are uploaded
# over a slow serial line (gdb reads compressed sections as they are).
set(HV_GUEST_CFLAGS
    -ffreestanding -fno-builtin -fno-stack-protector -fno-pic -fno-pie
    -fno-omit-frame-pointer -fno-strict-aliasing -fno-common
    -mno-red-zone -mgeneral-regs-only
    -fcf-protection=none -fno-asynchronous-unwind-tables
    -ffunction-sections -fdata-sections)
set(HV_GUEST_GC_LDFLAGS -Wl,--gc-sections -Wl,--compress-debug-sections=zlib)


# Freestanding code sees only the compiler's own headers (stdint.h, stddef.h,
# stdarg.h, stdbool.h), the project's libc subset and its own headers; never
# the host's glibc headers.
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=include
    OUTPUT_VARIABLE HV_CC_INCLUDE OUTPUT_STRIP_TRAILING_WHITESPACE)
set(HV_LIBC_INCLUDE ${PROJECT_SOURCE_DIR}/lib/libc/include)
set(HV_LIB_INCLUDE ${PROJECT_SOURCE_DIR}/lib/include)

function(hv_freestanding_includes target)
  target_compile_options(${target} PRIVATE -nostdinc)
  # CMake drops implicit include dirs from include_directories(), so pass it as a flag.
  target_compile_options(${target} PRIVATE -isystem ${HV_CC_INCLUDE})
  target_include_directories(${target} PRIVATE ${HV_LIBC_INCLUDE} ${HV_LIB_INCLUDE}
      ${PROJECT_SOURCE_DIR}/proto/include)
endfunction()

# The hypervisor's include directories, one per layer. Each layer of hv/ is
# compiled with only the ones it may use (hv/CMakeLists.txt; the allowed
# directions are in hv/README.md). Host tests are no layer: they see all.
set(HV_INC_COMMON ${PROJECT_SOURCE_DIR}/hv/include)
set(HV_INC_ARCH ${PROJECT_SOURCE_DIR}/hv/arch/include)
set(HV_INC_CORE ${PROJECT_SOURCE_DIR}/hv/core/include)
set(HV_INC_MM ${PROJECT_SOURCE_DIR}/hv/mm/include)
set(HV_INC_SCHED ${PROJECT_SOURCE_DIR}/hv/sched/include)
set(HV_INC_ALL ${HV_INC_COMMON} ${HV_INC_ARCH} ${HV_INC_CORE} ${HV_INC_MM} ${HV_INC_SCHED})

# hv_freestanding_objects(NAME KERNEL|GUEST SOURCES src... [INCLUDES dir...])
#   Compiles sources with the freestanding flags of KIND into an object
#   library. Host-tested modules use this to prove that the very files the
#   unit tests exercise also build for the hypervisor or a domain.
function(hv_freestanding_objects name kind)
  cmake_parse_arguments(F "" "" "SOURCES;INCLUDES" ${ARGN})
  add_library(${name} OBJECT ${F_SOURCES})
  target_compile_options(${name} PRIVATE ${HV_WARNINGS}
      $<$<COMPILE_LANGUAGE:C>:${HV_${kind}_CFLAGS}>)
  hv_freestanding_includes(${name})
  target_include_directories(${name} PRIVATE ${F_INCLUDES})
endfunction()

# hv_freestanding(TARGET KIND) with KIND = KERNEL or GUEST.
function(hv_freestanding target kind)
  target_compile_options(${target} PRIVATE ${HV_WARNINGS}
      $<$<COMPILE_LANGUAGE:C>:${HV_${kind}_CFLAGS}>)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:ASM>:-fno-pic>)
  target_link_options(${target} PRIVATE -nostdlib -static -no-pie
      -Wl,--build-id=none -Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack
      -Wl,--no-warn-rwx-segments)
  hv_freestanding_includes(${target})
  target_link_libraries(${target} PRIVATE gcc)
endfunction()
