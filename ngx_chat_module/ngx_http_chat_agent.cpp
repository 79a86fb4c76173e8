/*
 * The agent and admin endpoints of API.md: their routes, each with the use
 * case it runs. The steps before it (the agent's token, CSRF, the body) are
 * every route's (ngx_http_chat_api.cpp); every rule is core's
 * (chat::agent::Service).
 */

#include "ngx_http_chat.h"

#include "chat/agent.h"


/* the route table checked that the worker has one */
static chat::agent::Service &
ngx_http_chat_agents(void)
{
    return *ngx_http_chat_worker()->agent;
}


typedef const ngx_http_chat_call_t  &ngx_http_chat_c;
typedef chat::OutcomeDone            ngx_http_chat_d;

#define NGX_HTTP_CHAT_READ   (NGX_HTTP_GET|NGX_HTTP_HEAD)
#define NGX_HTTP_CHAT_AGENT  ngx_http_chat_auth_agent, NGX_HTTP_CHAT_BODY


/* every route reads its (possibly empty) body, then authenticates */
const ngx_http_chat_route_t  ngx_http_chat_agent_routes[] = {

    { NGX_HTTP_POST, "v1/agent/login", ngx_http_chat_auth_login,
      NGX_HTTP_CHAT_BODY,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().login(c.body,
              ngx_http_chat_sv(c.r->connection->addr_text), c.site,
              std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/agent/logout", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().logout(*c.agent, std::move(d));
      }, NULL },

    { NGX_HTTP_CHAT_READ, "v1/agent/me", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().me(*c.agent, std::move(d));
      }, NULL },

    { NGX_HTTP_CHAT_READ, "v1/agent/agents", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().colleagues(*c.agent, std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/agent/presence", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().presence(*c.agent, c.body, std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/agent/totp/setup", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().totp_setup(*c.agent, std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/agent/totp/enable", ngx_http_chat_auth_agent,
      NGX_HTTP_CHAT_BODY|NGX_HTTP_CHAT_RATE,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().totp_enable(*c.agent, c.body,
              ngx_http_chat_sv(c.r->connection->addr_text), std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/agent/totp/disable", ngx_http_chat_auth_agent,
      NGX_HTTP_CHAT_BODY|NGX_HTTP_CHAT_RATE,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().totp_disable(*c.agent, c.body,
              ngx_http_chat_sv(c.r->connection->addr_text), std::move(d));
      }, NULL },

    { NGX_HTTP_CHAT_READ, "v1/agent/conversations", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().conversations(*c.agent, c.args,
                                               std::move(d));
      }, NULL },

    { NGX_HTTP_CHAT_READ, "v1/agent/conversations/{id}", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().conversation(*c.agent, c.id, c.args,
                                              std::move(d));
      }, NULL },

    { NGX_HTTP_PATCH, "v1/agent/conversations/{id}", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().update_conversation(*c.agent, c.id, c.body,
                                                     std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/agent/conversations/{id}/notes", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().note(*c.agent, c.id, c.body, std::move(d));
      }, NULL },

    { NGX_HTTP_CHAT_READ, "v1/agent/canned", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().canned(*c.agent, std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/agent/conversations/{id}/messages",
      NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().post(*c.agent, c.id, c.body, std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/agent/conversations/{id}/claim", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().claim(*c.agent, c.id, std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/agent/conversations/{id}/transfer",
      NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().transfer(*c.agent, c.id, c.body,
                                          std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/agent/conversations/{id}/close", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().close(*c.agent, c.id, std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/agent/conversations/{id}/read", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().read(*c.agent, c.id, c.body, std::move(d));
      }, NULL },

    { NGX_HTTP_CHAT_READ, "v1/agent/reports", ngx_http_chat_auth_agent,
      NGX_HTTP_CHAT_BODY|NGX_HTTP_CHAT_RATE,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().reports(*c.agent, c.args, std::move(d));
      }, NULL },

    { NGX_HTTP_CHAT_READ, "v1/admin/agents", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_agents(*c.agent, c.args, std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/admin/agents", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_create_agent(*c.agent, c.body,
                                                    std::move(d));
      }, NULL },

    { NGX_HTTP_PATCH, "v1/admin/agents/{id}", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_update_agent(*c.agent, c.id, c.body,
                                                    std::move(d));
      }, NULL },

    { NGX_HTTP_DELETE, "v1/admin/agents/{id}", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_delete_agent(*c.agent, c.id,
                                                    std::move(d));
      }, NULL },

    { NGX_HTTP_CHAT_READ, "v1/admin/faq", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_faq(*c.agent, std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/admin/faq", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_create_faq(*c.agent, c.body,
                                                  std::move(d));
      }, NULL },

    { NGX_HTTP_PATCH, "v1/admin/faq/{id}", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_update_faq(*c.agent, c.id, c.body,
                                                  std::move(d));
      }, NULL },

    { NGX_HTTP_DELETE, "v1/admin/faq/{id}", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_delete_faq(*c.agent, c.id,
                                                  std::move(d));
      }, NULL },

    { NGX_HTTP_CHAT_READ, "v1/admin/departments", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_departments(*c.agent, std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/admin/departments", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_create_department(*c.agent, c.body,
                                                         std::move(d));
      }, NULL },

    { NGX_HTTP_PATCH, "v1/admin/departments/{id}", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_update_department(*c.agent, c.id,
                                                         c.body, std::move(d));
      }, NULL },

    { NGX_HTTP_DELETE, "v1/admin/departments/{id}", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_delete_department(*c.agent, c.id,
                                                         std::move(d));
      }, NULL },

    { NGX_HTTP_CHAT_READ, "v1/admin/canned", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_canned(*c.agent, std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/admin/canned", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_create_canned(*c.agent, c.body,
                                                     std::move(d));
      }, NULL },

    { NGX_HTTP_PATCH, "v1/admin/canned/{id}", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_update_canned(*c.agent, c.id, c.body,
                                                     std::move(d));
      }, NULL },

    { NGX_HTTP_DELETE, "v1/admin/canned/{id}", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_delete_canned(*c.agent, c.id,
                                                     std::move(d));
      }, NULL },

    { NGX_HTTP_CHAT_READ, "v1/admin/webhooks", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_webhooks(*c.agent, std::move(d));
      }, NULL },

    { NGX_HTTP_POST, "v1/admin/webhooks", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_create_webhook(*c.agent, c.body,
                                                      std::move(d));
      }, NULL },

    { NGX_HTTP_DELETE, "v1/admin/webhooks/{id}", NGX_HTTP_CHAT_AGENT,
      [](ngx_http_chat_c c, ngx_http_chat_d d) {
          ngx_http_chat_agents().admin_delete_webhook(*c.agent, c.id,
                                                      std::move(d));
      }, NULL },

    { 0, NULL, ngx_http_chat_auth_none, 0, NULL, NULL }
};
