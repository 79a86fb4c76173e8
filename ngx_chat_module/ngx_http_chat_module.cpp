/*
 * The chat module: directives, module definition, and the configuration
 * (create, init and merge; the directives' option strings are parsed by
 * core's chat/config_parse.h). The per-worker state is in
 * ngx_http_chat_worker.cpp.
 */

#include "ngx_http_chat.h"

#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "chat/config_parse.h"
#include "chat/limits.h"
#include "chat/pg_conninfo.h"
#include "chat/redis_client.h"


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
static char *ngx_http_chat_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_chat_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


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
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_chat_postgres,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
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

    { ngx_string("chat_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_chat_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("chat_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_chat_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

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
     */

    cmcf->pg_pool_size = NGX_CONF_UNSET_UINT;
    cmcf->redis_port = NGX_CONF_UNSET_UINT;
    cmcf->message_max = NGX_CONF_UNSET_UINT;
    cmcf->history = NGX_CONF_UNSET_UINT;
    cmcf->rate.rate = NGX_CONF_UNSET_UINT;
    cmcf->rate.burst = NGX_CONF_UNSET_UINT;
    cmcf->agent_grace = NGX_CONF_UNSET_MSEC;
    cmcf->ws_max_message = NGX_CONF_UNSET_SIZE;
    cmcf->login_failures = NGX_CONF_UNSET_UINT;
    cmcf->login_address_failures = NGX_CONF_UNSET_UINT;
    cmcf->login_window = NGX_CONF_UNSET_MSEC;
    cmcf->login_queue = NGX_CONF_UNSET_UINT;
    cmcf->login_address_queue = NGX_CONF_UNSET_UINT;

    return cmcf;
}


static char *
ngx_http_chat_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_conf_init_uint_value(cmcf->pg_pool_size, chat::limits::kPgPoolDefault);
    ngx_conf_init_uint_value(cmcf->redis_port, chat::limits::kRedisPortDefault);
    ngx_conf_init_uint_value(cmcf->message_max,
                             chat::limits::kMessageMaxDefault);
    ngx_conf_init_uint_value(cmcf->history, chat::limits::kHistoryDefault);
    ngx_conf_init_uint_value(cmcf->rate.rate, 1000);     /* 1r/s */
    ngx_conf_init_uint_value(cmcf->rate.burst, 30);

    ngx_conf_init_msec_value(cmcf->agent_grace,
                             chat::limits::kAgentGraceMsDefault);
    ngx_conf_init_uint_value(cmcf->login_failures,
                             chat::limits::kLoginFailuresDefault);
    ngx_conf_init_uint_value(cmcf->login_address_failures,
                             chat::limits::kLoginAddressFailuresDefault);
    ngx_conf_init_msec_value(cmcf->login_window,
                             chat::limits::kLoginWindowMsDefault);
    ngx_conf_init_uint_value(cmcf->login_queue,
                             chat::limits::kLoginQueueDefault);
    ngx_conf_init_uint_value(cmcf->login_address_queue,
                             chat::limits::kLoginAddressQueueDefault);
    ngx_conf_init_size_value(cmcf->ws_max_message,
                             chat::limits::kWsMaxMessageDefault);

    try {
        chat::Result<void>  checks[] = {
            chat::config::check_range("chat_history", chat::limits::kHistory,
                                      (std::int64_t) cmcf->history),
            chat::config::check_range("chat_message_max",
                                      chat::limits::kMessageMax,
                                      (std::int64_t) cmcf->message_max),
            chat::config::check_ws_max_message(
                (std::int64_t) cmcf->ws_max_message)
        };

        for (const auto &c : checks) {
            if (!c.ok()) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s",
                                   c.error().message.c_str());
                return static_cast<char *>(NGX_CONF_ERROR);
            }
        }

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "chat: %s", e.what());
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

    if (cmcf->pg_conninfo.len && cmcf->secret.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "chat_postgres needs chat_secret (the key that "
                           "signs session tokens)");
        return static_cast<char *>(NGX_CONF_ERROR);
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

    /* chat_session_rate: 30r/m burst=60 */
    if (conf->session_rate.rate == NGX_CONF_UNSET_UINT) {
        conf->session_rate = prev->session_rate;
    }

    ngx_conf_init_uint_value(conf->session_rate.rate, 500);
    ngx_conf_init_uint_value(conf->session_rate.burst, 60);
    ngx_conf_merge_ptr_value(conf->allowed_origins, prev->allowed_origins,
                             NULL);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_chat_conf_str(ngx_conf_t *cf, std::string_view in, ngx_str_t *out)
{
    out->len = in.size();
    out->data = static_cast<u_char *>(ngx_pnalloc(cf->pool, in.size() + 1));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, in.data(), in.size());
    out->data[in.size()] = '\0';

    return NGX_OK;
}


/* chat_postgres "conninfo" [pool=N]; resolved here, in the master, once */
static char *
ngx_http_chat_postgres(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_str_t  *value;

    if (cmcf->pg_conninfo.len) {
        return (char *) "is duplicate";
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    try {
        if (cf->args->nelts == 3) {
            auto pool = chat::config::parse_pg_pool(ngx_http_chat_sv(value[2]));

            if (!pool.ok()) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s",
                                   pool.error().message.c_str());
                return static_cast<char *>(NGX_CONF_ERROR);
            }

            cmcf->pg_pool_size = pool.value();
        }

        auto resolved = chat::pg::resolve_conninfo(ngx_http_chat_sv(value[1]));

        if (!resolved.ok()) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid chat_postgres conninfo: %s",
                               resolved.error().message.c_str());
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        if (ngx_http_chat_conf_str(cf, resolved.value(), &cmcf->pg_conninfo)
            != NGX_OK)
        {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "chat_postgres: %s", e.what());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


/* chat_redis HOST[:PORT]; a name is resolved here, in the master, once */
static char *
ngx_http_chat_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_str_t  *value;

    if (cmcf->redis_ip.len) {
        return (char *) "is duplicate";
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    try {
        auto ep = chat::redis::resolve_endpoint(ngx_http_chat_sv(value[1]));

        if (!ep.ok()) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid chat_redis address \"%V\": %s",
                               &value[1], ep.error().message.c_str());
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        if (ngx_http_chat_conf_str(cf, ep.value().ip, &cmcf->redis_ip)
            != NGX_OK)
        {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        cmcf->redis_port = ep.value().port;

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "chat_redis: %s", e.what());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


/* chat_secret FILE: the HMAC key; its bytes are never logged */
static char *
ngx_http_chat_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_main_conf_t  *cmcf = static_cast<ngx_http_chat_main_conf_t *>(conf);

    ngx_str_t  *value, file;

    if (cmcf->secret.len) {
        return (char *) "is duplicate";
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    try {
        std::ifstream       in(reinterpret_cast<const char *>(file.data),
                               std::ios::binary);
        std::ostringstream  buf;

        if (!in) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "cannot read chat_secret file \"%V\"", &file);
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        buf << in.rdbuf();
        auto key = chat::config::parse_secret(buf.str());

        if (!key.ok()) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "chat_secret file \"%V\" %s", &file,
                               key.error().message.c_str());
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        if (ngx_http_chat_conf_str(cf, key.value(), &cmcf->secret) != NGX_OK) {
            return static_cast<char *>(NGX_CONF_ERROR);
        }

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "chat_secret: %s", e.what());
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

    ngx_str_t   *value;
    ngx_uint_t   i;

    if (cmcf->login_failures != NGX_CONF_UNSET_UINT
        || cmcf->login_address_failures != NGX_CONF_UNSET_UINT
        || cmcf->login_window != NGX_CONF_UNSET_MSEC
        || cmcf->login_queue != NGX_CONF_UNSET_UINT
        || cmcf->login_address_queue != NGX_CONF_UNSET_UINT)
    {
        return (char *) "is duplicate";
    }

    value = static_cast<ngx_str_t *>(cf->args->elts);

    try {
        std::vector<std::string_view>  args;

        for (i = 1; i < cf->args->nelts; i++) {
            args.push_back(ngx_http_chat_sv(value[i]));
        }

        auto ll = chat::config::parse_login_limit(args);

        if (!ll.ok()) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s",
                               ll.error().message.c_str());
            return static_cast<char *>(NGX_CONF_ERROR);
        }

        const chat::config::LoginLimit  &o = ll.value();

        if (o.failures) {
            cmcf->login_failures = *o.failures;
        }

        if (o.address_failures) {
            cmcf->login_address_failures = *o.address_failures;
        }

        if (o.window_ms) {
            cmcf->login_window = *o.window_ms;
        }

        if (o.queue) {
            cmcf->login_queue = *o.queue;
        }

        if (o.address_queue) {
            cmcf->login_address_queue = *o.address_queue;
        }

    } catch (const std::exception &e) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "chat_login_limit: %s",
                           e.what());
        return static_cast<char *>(NGX_CONF_ERROR);
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_chat_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_loc_conf_t  *clcf = static_cast<ngx_http_chat_loc_conf_t *>(conf);

    ngx_http_core_loc_conf_t  *hclcf;

    if (clcf->api != NGX_CONF_UNSET) {
        return (char *) "is duplicate";
    }

    clcf->api = 1;

    hclcf = static_cast<ngx_http_core_loc_conf_t *>(
                ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
    hclcf->handler = ngx_http_chat_api_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_chat_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_chat_loc_conf_t  *clcf = static_cast<ngx_http_chat_loc_conf_t *>(conf);

    ngx_http_core_loc_conf_t  *hclcf;

    if (clcf->status != NGX_CONF_UNSET) {
        return (char *) "is duplicate";
    }

    clcf->status = 1;

    hclcf = static_cast<ngx_http_core_loc_conf_t *>(
                ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
    hclcf->handler = ngx_http_chat_status_handler;

    return NGX_CONF_OK;
}
