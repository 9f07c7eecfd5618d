# add_guest(NAME SOURCES src... [INCLUDES dir...] [LIBS lib...])
#   Builds the domain image NAME (a static ELF64) from the sources with the
#   guest-kit runtime and libc subset. The image is ${CMAKE_CURRENT_BINARY_DIR}/NAME.
function(add_guest name)
  cmake_parse_arguments(G "" "" "SOURCES;INCLUDES;LIBS" ${ARGN})
  add_executable(${name} ${G_SOURCES})
  hv_freestanding(${name} GUEST)
  target_include_directories(${name} PRIVATE ${G_INCLUDES})
  target_link_options(${name} PRIVATE -T ${GK_LINKER_SCRIPT})
  set_target_properties(${name} PROPERTIES LINK_DEPENDS ${GK_LINKER_SCRIPT})
  target_link_libraries(${name} PRIVATE ${G_LIBS} gk_runtime gk_libc_guest)
endfunction()
