/*
 * The chat module: directives, module definition, and the configuration
 * (create, init and merge). What each directive's arguments mean, their
 * defaults and checks are core's (chat/config_parse.h, config_directives.h):
 * a handler fetches its arguments, asks core, logs core's message or stores
 * the answer. The per-worker state is in ngx_http_chat_worker.cpp.
 */

#include "ngx_http_chat.h"

#include <optional>
#include <span>
#include <string_view>

#include "chat/config_directives.h"
#include "chat/config_parse.h"
#include "chat/limits.h"
#include "chat/tls_client.h"


static void *ngx_http_chat_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_chat_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_chat_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_chat_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

static char *ngx_http_chat_postgres(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chat_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chat_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chat_login_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chat_site_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chat_retention(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chat_handler_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_http_handler_pt  ngx_http_chat_api_pt = ngx_http_chat_api_handler;
static ngx_http_handler_pt  ngx_http_chat_status_pt =
    ngx_http_chat_status_handler;


static ngx_conf_enum_t  ngx_http_chat_cookie_secure[] = {
    { ngx_string("off"), NGX_HTTP_CHAT_COOKIE_SECURE_OFF },
    { ngx_string("on"), NGX_HTTP_CHAT_COOKIE_SECURE_ON },
    { ngx_string("auto"), NGX_HTTP_CHAT_COOKIE_SECURE_AUTO },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_chat_commands[] = {

    { ngx_string("chat_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_chat_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_postgres"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_http_chat_postgres,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_chat_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_secret"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_chat_secret,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_rate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_chat_rate,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_chat_main_conf_t, rate),
      NULL },

    { ngx_string("chat_login_limit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_chat_login_limit,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_session_rate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE12,
      ngx_http_chat_rate,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_chat_loc_conf_t, session_rate),
      NULL },

    { ngx_string("chat_cookie_secure"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_chat_loc_conf_t, cookie_secure),
      &ngx_http_chat_cookie_secure },

    { ngx_string("chat_message_max"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_chat_main_conf_t, message_max),
      NULL },

    { ngx_string("chat_history"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_chat_main_conf_t, history),
      NULL },

    { ngx_string("chat_agent_grace"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_chat_main_conf_t, agent_grace),
      NULL },

    { ngx_string("chat_retention"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_chat_retention,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_webhook_backoff"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_chat_main_conf_t, webhook_backoff),
      NULL },

    { ngx_string("chat_webhook_private"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_chat_main_conf_t, webhook_private),
      NULL },

    { ngx_string("chat_webhook_ca"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_chat_main_conf_t, webhook_ca),
      NULL },

    { ngx_string("chat_ws_max_message"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_chat_main_conf_t, ws_max_message),
      NULL },

    { ngx_string("chat_allowed_origins"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_chat_allowed_origins,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_chat_loc_conf_t, allowed_origins),
      NULL },

    { ngx_string("chat_site"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_chat_site_set,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_chat_loc_conf_t, site),
      NULL },

    { ngx_string("chat_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_chat_handler_set,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_chat_loc_conf_t, api),
      &ngx_http_chat_api_pt },

    { ngx_string("chat_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_chat_handler_set,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_chat_loc_conf_t, status),
      &ngx_http_chat_status_pt },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_chat_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_chat_filter_init,             /* postconfiguration */

    ngx_http_chat_create_main_conf,        /* create main configuration */
    ngx_http_chat_init_main_conf,          /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_chat_create_loc_conf,         /* create location configuration */
    ngx_http_chat_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_chat_module = {
    NGX_MODULE_V1,
    &ngx_http_chat_module_ctx,             /* module context */
    ngx_http_chat_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_chat_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_chat_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* core's answer copied to cf->pool (read as ngx_http_chat_sv) */
static ngx_int_t
ngx_http_chat_conf_str(ngx_conf_t *cf, std::string_view in, ngx_str_t *out)
{
    ngx_str_t  s = { in.size(), (u_char *) in.data() };

    out->len = in.size();
    out->data = ngx_pstrdup(cf->pool, &s);

    return out->data ? NGX_OK : NGX_ERROR;
}


/* a core answer refused: its message is the whole line to log */
template <class T>
static ngx_int_t
ngx_http_chat_conf_check(ngx_conf_t *cf, const chat::Result<T> &res)
{
    if (res.ok()) {
        return NGX_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s",
                       res.error().message.c_str());

    return NGX_ERROR;
}


/*
 * chat_webhook_ca: the path made absolute (relative to the configuration
 * prefix, like ssl_trusted_certificate) and loaded once here, so a file that
 * is missing or not PEM fails `nginx -t` instead of every https delivery
 */
static ngx_int_t
ngx_http_chat_webhook_ca_check(ngx_conf_t *cf, ngx_http_chat_main_conf_t *cmcf)
{
    if (ngx_conf_full_name(cf->cycle, &cmcf->webhook_ca, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    try {
        return ngx_http_chat_conf_check(cf,
                   chat::tls::ClientContext::make(
                       ngx_http_chat_sv(cmcf->webhook_ca)));

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "chat_webhook_ca: %s",
                           e.what());
        return NGX_ERROR;
    }
}


/* chat_login_limit's options, the defaults for those not given */
static void
ngx_http_chat_login_store(ngx_http_chat_main_conf_t *cmcf,
    const chat::config::LoginLimit &given)
{
    chat::config::LoginLimitValues  v = chat::config::login_limit_values(given);

    cmcf->login_failures = v.failures;
    cmcf->login_address_failures = v.address_failures;
    cmcf->login_window = v.window_ms;
    cmcf->login_queue = v.queue;
    cmcf->login_address_queue = v.address_queue;
}


static void *
ngx_http_chat_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_chat_main_conf_t  *cmcf;

    cmcf = static_cast<ngx_http_chat_main_conf_t *>(
               ngx_pcalloc(cf->pool, sizeof(ngx_http_chat_main_conf_t)));
    if (cmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     cmcf->zone = NULL;
     *     cmcf->pg_conninfo = { 0, NULL };
     *     cmcf->redis_ip = { 0, NULL };
     *     cmcf->secret = { 0, NULL };
     *     cmcf->webhook_ca = { 0, NULL };
     *
     * pg_pool_size, pg_prepared, redis_port and redis_batch are set with
     * pg_conninfo and redis_ip
     */

    cmcf->message_max = NGX_CONF_UNSET_UINT;
    cmcf->history = NGX_CONF_UNSET_UINT;
    cmcf->rate.rate = NGX_CONF_UNSET_UINT;
    cmcf->rate.burst = NGX_CONF_UNSET_UINT;
    cmcf->agent_grace = NGX_CONF_UNSET_MSEC;
    cmcf->retention = NGX_CONF_UNSET;
    cmcf->webhook_backoff = NGX_CONF_UNSET_MSEC;
    cmcf->webhook_private = NGX_CONF_UNSET;
    cmcf->ws_max_message = NGX_CONF_UNSET_SIZE;
    cmcf->login_failures = NGX_CONF_UNSET_UINT;     /* chat_login_limit */

    return cmcf;
}


static char *
ngx_http_chat_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_conf_init_uint_value(cmcf->message_max,
                             chat::limits::kMessageMaxDefault);
    ngx_conf_init_uint_value(cmcf->history, chat::limits::kHistoryDefault);
    ngx_conf_init_uint_value(cmcf->rate.rate, chat::limits::kRateDefault);
    ngx_conf_init_uint_value(cmcf->rate.burst, chat::limits::kRateBurstDefault);

    ngx_conf_init_msec_value(cmcf->agent_grace,
                             chat::limits::kAgentGraceMsDefault);
    ngx_conf_init_value(cmcf->retention, 0);
    ngx_conf_init_msec_value(cmcf->webhook_backoff,
                             chat::limits::kWebhookBackoffDefaultMs);
    ngx_conf_init_value(cmcf->webhook_private, 0);

    if (!chat::limits::kWebhookBackoffMs.contains(
            (std::int64_t) cmcf->webhook_backoff))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "chat_webhook_backoff must be %s",
                           chat::limits::range_text(
                               chat::limits::kWebhookBackoffMs).c_str());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (cmcf->webhook_ca.len
        && ngx_http_chat_webhook_ca_check(cf, cmcf) != NGX_OK)
    {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (cmcf->login_failures == NGX_CONF_UNSET_UINT) {
        ngx_http_chat_login_store(cmcf, chat::config::LoginLimit{});
    }

    ngx_conf_init_size_value(cmcf->ws_max_message,
                             chat::limits::kWsMaxMessageDefault);

    chat::config::MainConf  mc = {
        (std::int64_t) cmcf->history, (std::int64_t) cmcf->message_max,
        (std::int64_t) cmcf->ws_max_message, cmcf->pg_conninfo.len != 0,
        cmcf->secret.len != 0 };

    if (ngx_http_chat_conf_check(cf, chat::config::check_main(mc)) != NGX_OK) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    if (cmcf->pg_conninfo.len) {
        /* agents' passwords are hashed on nginx's thread pool */
        ngx_str_t  pool_name = ngx_string("default");

        cmcf->thread_pool = ngx_thread_pool_add(cf, &pool_name);
        if (cmcf->thread_pool == NULL) {
            return static_cast<char *>(NGX_CONF_ERROR);
        }
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_chat_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_chat_loc_conf_t  *clcf;

    clcf = static_cast<ngx_http_chat_loc_conf_t *>(
               ngx_pcalloc(cf->pool, sizeof(ngx_http_chat_loc_conf_t)));
    if (clcf == NULL) {
        return NULL;
    }

    clcf->api = NGX_CONF_UNSET;
    clcf->status = NGX_CONF_UNSET;
    clcf->session_rate.rate = NGX_CONF_UNSET_UINT;
    clcf->session_rate.burst = NGX_CONF_UNSET_UINT;
    clcf->cookie_secure = NGX_CONF_UNSET_UINT;
    clcf->allowed_origins = static_cast<ngx_array_t *>(NGX_CONF_UNSET_PTR);

    return clcf;
}


static char *
ngx_http_chat_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_chat_loc_conf_t  *prev = static_cast<ngx_http_chat_loc_conf_t *>(parent);
    ngx_http_chat_loc_conf_t  *conf = static_cast<ngx_http_chat_loc_conf_t *>(child);

    ngx_conf_merge_value(conf->api, prev->api, 0);
    ngx_conf_merge_value(conf->status, prev->status, 0);
    ngx_conf_merge_uint_value(conf->cookie_secure, prev->cookie_secure,
                              NGX_HTTP_CHAT_COOKIE_SECURE_AUTO);

    if (conf->session_rate.rate == NGX_CONF_UNSET_UINT) {
        conf->session_rate = prev->session_rate;
    }

    ngx_conf_init_uint_value(conf->session_rate.rate,
                             chat::limits::kSessionRateDefault);
    ngx_conf_init_uint_value(conf->session_rate.burst,
                             chat::limits::kSessionRateBurstDefault);
    ngx_conf_merge_ptr_value(conf->allowed_origins, prev->allowed_origins,
                             NULL);

    if (conf->site.data == NULL) {
        conf->site = prev->site;
    }

    if (conf->site.data == NULL) {
        conf->site.data = (u_char *) chat::limits::kSiteDefault.data();
        conf->site.len = chat::limits::kSiteDefault.size();
    }

    return NGX_CONF_OK;
}


std::string_view
ngx_http_chat_site(ngx_http_request_t *r)
{
    ngx_http_chat_loc_conf_t  *lcf;

    lcf = static_cast<ngx_http_chat_loc_conf_t *>(
              ngx_http_get_module_loc_conf(r, ngx_http_chat_module));

    return ngx_http_chat_sv(lcf->site);
}


/*
 * chat_postgres "conninfo" [pool=N] [prepare=N]; resolved here, in the master,
 * once
 */
static char *
ngx_http_chat_postgres(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_uint_t         i;
    ngx_str_t         *value = static_cast<ngx_str_t *>(cf->args->elts);
    std::string_view   args[2];

    if (cmcf->pg_conninfo.len) {
        return (char *) "is duplicate";
    }

    for (i = 2; i < cf->args->nelts; i++) {
        args[i - 2] = ngx_http_chat_sv(value[i]);
    }

    auto pg = chat::config::resolve_postgres(ngx_http_chat_sv(value[1]),
                  std::span<const std::string_view>(args,
                                                    cf->args->nelts - 2));

    if (ngx_http_chat_conf_check(cf, pg) != NGX_OK
        || ngx_http_chat_conf_str(cf, pg.value().conninfo, &cmcf->pg_conninfo)
           != NGX_OK)
    {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    cmcf->pg_pool_size = pg.value().pool;
    cmcf->pg_prepared = pg.value().prepared;

    return NGX_CONF_OK;
}


/*
 * chat_redis HOST[:PORT] [batch=on|off]; a name is resolved here, in the
 * master, once
 */
static char *
ngx_http_chat_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_str_t  *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (cmcf->redis_ip.len) {
        return (char *) "is duplicate";
    }

    auto ep = chat::config::resolve_redis(ngx_http_chat_sv(value[1]));

    if (ngx_http_chat_conf_check(cf, ep) != NGX_OK
        || ngx_http_chat_conf_str(cf, ep.value().ip, &cmcf->redis_ip) != NGX_OK)
    {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    cmcf->redis_port = ep.value().port;
    cmcf->redis_batch = 0;

    if (cf->args->nelts == 3) {
        auto batch = chat::config::parse_redis_batch(
                         ngx_http_chat_sv(value[2]));

        if (ngx_http_chat_conf_check(cf, batch) != NGX_OK) {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        cmcf->redis_batch = batch.value();
    }

    return NGX_CONF_OK;
}


/* chat_secret FILE: the HMAC key; its bytes are never logged */
static char *
ngx_http_chat_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_str_t  file = static_cast<ngx_str_t *>(cf->args->elts)[1];

    if (cmcf->secret.len) {
        return (char *) "is duplicate";
    }

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    auto key = chat::config::read_secret(ngx_http_chat_sv(file));

    if (ngx_http_chat_conf_check(cf, key) != NGX_OK
        || ngx_http_chat_conf_str(cf, key.value(), &cmcf->secret) != NGX_OK)
    {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


/*
 * chat_login_limit [failures=N] [address=N] [window=time] [queue=N]
 *                  [address_queue=N];
 */
static char *
ngx_http_chat_login_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_str_t                 *value = static_cast<ngx_str_t *>(cf->args->elts);
    ngx_uint_t                 i;
    chat::config::LoginLimit   ll;

    if (cmcf->login_failures != NGX_CONF_UNSET_UINT) {
        return (char *) "is duplicate";
    }

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_http_chat_conf_check(cf, chat::config::parse_login_option(
                ll, ngx_http_chat_sv(value[i]))) != NGX_OK)
        {
            return static_cast<char *>(NGX_CONF_ERROR);
        }
    }

    ngx_http_chat_login_store(cmcf, ll);

    return NGX_CONF_OK;
}


/* chat_retention off | time; (chat::config::parse_retention) */
static char *
ngx_http_chat_retention(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_str_t                     *value = static_cast<ngx_str_t *>(cf->args->elts);
    chat::Result<std::int64_t>     r = chat::config::parse_retention(
                                           ngx_http_chat_sv(value[1]));

    if (cmcf->retention != NGX_CONF_UNSET) {
        return (char *) "is duplicate";
    }

    if (ngx_http_chat_conf_check(cf, r) != NGX_OK) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    cmcf->retention = (ngx_int_t) r.value();

    return NGX_CONF_OK;
}


/* chat_site NAME; (the name's rule: chat::config::check_site) */
static char *
ngx_http_chat_site_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t  *field = reinterpret_cast<ngx_str_t *>(static_cast<char *>(conf)
                                                     + cmd->offset);
    ngx_str_t  *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (field->data != NULL) {
        return (char *) "is duplicate";
    }

    if (ngx_http_chat_conf_check(cf, chat::config::check_site(
            ngx_http_chat_sv(value[1]))) != NGX_OK)
    {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    *field = value[1];

    return NGX_CONF_OK;
}


/* chat_api, chat_status: the flag at cmd->offset, the handler at cmd->post */
static char *
ngx_http_chat_handler_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_flag_t                *flag;
    ngx_http_core_loc_conf_t  *hclcf;

    flag = reinterpret_cast<ngx_flag_t *>(static_cast<char *>(conf)
                                          + cmd->offset);

    if (*flag != NGX_CONF_UNSET) {
        return (char *) "is duplicate";
    }

    *flag = 1;

    hclcf = static_cast<ngx_http_core_loc_conf_t *>(
                ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
    hclcf->handler = *static_cast<ngx_http_handler_pt *>(cmd->post);

    return NGX_CONF_OK;
}
