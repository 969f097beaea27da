#pragma once
// Registers every dialect's routes (Nugen /api/v3, run-agent.ai /v1/agents/{id}/...,
// Roe /v1/agents/.../, admin /admin/) on the router. Handlers borrow `core`,
// which must outlive the router.

#include "core/core.h"
#include "http/router.h"

namespace agentd::api {

void register_routes(http::Router& router, core::Core& core);

}  // namespace agentd::api
