# agentd_library(NAME DEPS...): a static library made of every .cpp in the
# current folder (and its sub-folders), so adding a file needs no CMake edit.
# A folder with no sources yet becomes an interface library.
#
# Files named *_avx2.cpp / *_avx512.cpp are compiled for that instruction set
# only, as object libraries of their own (NAME_avx2, NAME_avx512) whose objects
# pass through cmake/isa_object.sh: every function they define but their
# entry points is renamed for the ISA, so no code built for it can be picked
# by the linker for a caller in another file (callers pick the entry points
# at run time; see src/engine/kernels/kernels.h).
set(AGENTD_ISA_FLAGS_avx2 -mavx2 -mfma -mf16c)
set(AGENTD_ISA_FLAGS_avx512 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16 -mfma -mf16c -mavx2)

# agentd_isa_objects(OUT NAME SRCS_VAR DEPS...): takes the *_avx2.cpp and
# *_avx512.cpp files out of the list SRCS_VAR names and builds them as the
# object libraries NAME_avx2 and NAME_avx512; OUT gets their objects.
function(agentd_isa_objects out name srcs_var)
  set(srcs ${${srcs_var}})
  set(objects)
  set(ccache "")
  if(CCACHE_PROGRAM)
    set(ccache ${CCACHE_PROGRAM})
  endif()
  foreach(isa avx2 avx512)
    set(isa_srcs ${srcs})
    list(FILTER isa_srcs INCLUDE REGEX "_${isa}\\.cpp$")
    list(FILTER srcs EXCLUDE REGEX "_${isa}\\.cpp$")
    if(isa_srcs)
      add_library(${name}_${isa} OBJECT ${isa_srcs})
      target_link_libraries(${name}_${isa} PRIVATE ${ARGN})
      target_compile_options(${name}_${isa} PRIVATE ${AGENTD_ISA_FLAGS_${isa}})
      set_target_properties(${name}_${isa} PROPERTIES
        CXX_COMPILER_LAUNCHER "${CMAKE_SOURCE_DIR}/cmake/isa_object.sh;${isa};${ccache}")
      list(APPEND objects $<TARGET_OBJECTS:${name}_${isa}>)
    endif()
  endforeach()
  set(${srcs_var} ${srcs} PARENT_SCOPE)
  set(${out} ${objects} PARENT_SCOPE)
endfunction()

function(agentd_library name)
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(NOT srcs)
    add_library(${name} INTERFACE)
    target_link_libraries(${name} INTERFACE ${ARGN})
    return()
  endif()
  agentd_isa_objects(isa_objects ${name} srcs ${ARGN})
  add_library(${name} STATIC ${srcs} ${isa_objects})
  target_link_libraries(${name} PUBLIC ${ARGN})
endfunction()
