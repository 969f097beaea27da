// placeholder
#include "engine/kernels_internal.h"
namespace agentd::engine::detail {
void fill_avx2_kernels(KernelTable&) {}
}  // namespace agentd::engine::detail
