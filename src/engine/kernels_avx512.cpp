// placeholder
#include "engine/kernels_internal.h"
namespace agentd::engine::detail {
void fill_avx512_kernels(KernelTable&) {}
}  // namespace agentd::engine::detail
