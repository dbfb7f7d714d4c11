# Small helpers shared by every component's CMakeLists.txt.

# mg_add_library(NAME SOURCES ... [DEPS ...] [PUBLIC_DIR dir])
# A static library whose public header lives in its own directory.
function(mg_add_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  if(A_DEPS)
    target_link_libraries(${name} PUBLIC ${A_DEPS})
  endif()
endfunction()

# mg_add_test(NAME SOURCES ... [LIBS ...] [LABELS ...] [TIMEOUT s])
# One Criterion executable registered with ctest. Timeouts scale with
# MG_TEST_TIMEOUT_MULTIPLIER (sanitizer builds set it).
function(mg_add_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  if(DEFINED ENV{MG_TEST_TIMEOUT_MULTIPLIER})
    math(EXPR A_TIMEOUT "${A_TIMEOUT} * $ENV{MG_TEST_TIMEOUT_MULTIPLIER}")
  endif()
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_LIBS} PkgConfig::CRITERION)
  target_compile_definitions(${name} PRIVATE
    MG_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    MG_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared"
    MG_BINARY_DIR="${PROJECT_BINARY_DIR}")
  add_test(NAME ${name} COMMAND ${name} --jobs=2)
  set_tests_properties(${name} PROPERTIES TIMEOUT ${A_TIMEOUT})
  if(A_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}")
    if("tsan" IN_LIST A_LABELS)
      add_dependencies(mg_tsan_tests ${name})
    endif()
  endif()
endfunction()

# mg_add_component(dir): add_subdirectory when the folder has a CMakeLists.txt,
# so a component can land in parts.
function(mg_add_component dir)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/CMakeLists.txt)
    add_subdirectory(${dir})
  endif()
endfunction()

# mg_add_subcomponents(): add every sub-folder of the current folder that has
# a CMakeLists.txt (e.g. worker/model, worker/tokenizer, worker/engine).
function(mg_add_subcomponents)
  file(GLOB subs LIST_DIRECTORIES true CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT subs)
  foreach(dir ${subs})
    if(IS_DIRECTORY ${dir} AND EXISTS ${dir}/CMakeLists.txt)
      add_subdirectory(${dir})
    endif()
  endforeach()
endfunction()
