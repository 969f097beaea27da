# agentd_library(NAME DEPS...): a static library made of every .cpp in the
# current folder (and its sub-folders), so adding a file needs no CMake edit.
# A folder with no sources yet becomes an interface library.
function(agentd_library name)
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(srcs)
    add_library(${name} STATIC ${srcs})
    target_link_libraries(${name} PUBLIC ${ARGN})
  else()
    add_library(${name} INTERFACE)
    target_link_libraries(${name} INTERFACE ${ARGN})
  endif()
endfunction()
