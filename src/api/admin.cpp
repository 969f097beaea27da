#include "api/dialects.h"
namespace agentd::api {
void register_admin(http::Router&, core::Core&) {}
}  // namespace agentd::api
