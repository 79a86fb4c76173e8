// Rewrites a Postgres conninfo so host names are resolved at configuration time, never in a worker.
#include "chat/pg_conninfo.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <sys/socket.h>

#include <memory>
#include <vector>

namespace chat::pg {
namespace {

struct OptionsFree {
    void operator()(PQconninfoOption* o) const noexcept { PQconninfoFree(o); }
};
using OptionsPtr = std::unique_ptr<PQconninfoOption, OptionsFree>;

struct AddrFree {
    void operator()(addrinfo* a) const noexcept { freeaddrinfo(a); }
};

// Parses with libpq itself so we accept exactly what libpq accepts (URIs included).
Result<OptionsPtr> parse(std::string_view conninfo) {
    std::string s(conninfo);
    char* err = nullptr;
    OptionsPtr opts(PQconninfoParse(s.c_str(), &err));
    if (!opts) {
        std::string msg = err ? err : "out of memory parsing conninfo";
        if (err) PQfreemem(err);
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        return make_error(Errc::bad_request, "invalid conninfo: " + msg);
    }
    return opts;
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == ',') {
            out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    out.push_back(cur);
    return out;
}

bool is_ip_literal(const std::string& h) {
    unsigned char buf[sizeof(in6_addr)];
    return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

// Empty host (libpq's default), a unix socket directory, or an IP: nothing to resolve.
bool needs_resolving(const std::string& h) { return !h.empty() && h[0] != '/' && h[0] != '@' && !is_ip_literal(h); }

Result<std::string> resolve_one(const std::string& host) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* raw = nullptr;
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &raw);
    std::unique_ptr<addrinfo, AddrFree> list(raw);
    if (rc != 0) return make_error(Errc::bad_request, "cannot resolve host \"" + host + "\": " + gai_strerror(rc));
    const addrinfo* pick = nullptr;
    for (const addrinfo* a = list.get(); a; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
        if (a->ai_family == AF_INET6 && !pick) pick = a;
    }
    if (!pick) return make_error(Errc::bad_request, "host \"" + host + "\" has no IP address");
    char buf[INET6_ADDRSTRLEN] = {};
    const void* src = pick->ai_family == AF_INET
                          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(pick->ai_addr)->sin_addr)
                          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(pick->ai_addr)->sin6_addr);
    if (!inet_ntop(pick->ai_family, src, buf, sizeof buf))
        return make_error(Errc::bad_request, "cannot format address of \"" + host + "\"");
    return std::string(buf);
}

// libpq's conninfo quoting: single quotes around the value, backslash before ' and \.
std::string quote(const char* v) {
    std::string out = "'";
    for (const char* p = v; *p; ++p) {
        if (*p == '\'' || *p == '\\') out += '\\';
        out += *p;
    }
    out += '\'';
    return out;
}

}  // namespace

Result<std::string> resolve_conninfo(std::string_view conninfo) {
    try {
        auto parsed = parse(conninfo);
        if (!parsed) return parsed.error();
        PQconninfoOption* opts = parsed.value().get();

        PQconninfoOption* host = nullptr;
        PQconninfoOption* hostaddr = nullptr;
        for (PQconninfoOption* o = opts; o->keyword; ++o) {
            std::string_view k = o->keyword;
            if (k == "host" && o->val) host = o;
            if (k == "hostaddr" && o->val && *o->val) hostaddr = o;
        }

        std::string new_hostaddr;
        if (host && !hostaddr) {
            auto hosts = split_commas(host->val);
            bool any = false;
            std::vector<std::string> addrs;
            for (auto& h : hosts) {
                if (!needs_resolving(h)) {
                    addrs.emplace_back();  // empty entry: libpq uses host for this one
                    continue;
                }
                auto ip = resolve_one(h);
                if (!ip) return ip.error();
                addrs.push_back(std::move(ip).value());
                any = true;
            }
            if (any) {
                for (std::size_t i = 0; i < addrs.size(); ++i) new_hostaddr += (i ? "," : "") + addrs[i];
            }
        }

        std::string out;
        for (PQconninfoOption* o = opts; o->keyword; ++o) {
            std::string_view k = o->keyword;
            const char* val = o->val;
            if (k == "hostaddr" && !new_hostaddr.empty()) continue;  // added right after host
            if (!val) continue;
            if (!out.empty()) out += ' ';
            out += o->keyword;
            out += '=';
            out += quote(val);
            if (k == "host" && !new_hostaddr.empty()) out += " hostaddr=" + quote(new_hostaddr.c_str());
        }
        return out;
    } catch (const std::exception& e) {
        return make_error(Errc::internal, std::string("resolve_conninfo: ") + e.what());
    } catch (...) {
        return make_error(Errc::internal, "resolve_conninfo: unknown exception");
    }
}

bool conninfo_needs_dns(std::string_view conninfo) {
    try {
        auto parsed = parse(conninfo);
        if (!parsed) return true;
        const char* host = nullptr;
        const char* hostaddr = nullptr;
        for (PQconninfoOption* o = parsed.value().get(); o->keyword; ++o) {
            std::string_view k = o->keyword;
            if (k == "host") host = o->val;
            if (k == "hostaddr") hostaddr = o->val;
        }
        if (!host) return false;
        auto hosts = split_commas(host);
        std::vector<std::string> addrs = hostaddr ? split_commas(hostaddr) : std::vector<std::string>{};
        for (std::size_t i = 0; i < hosts.size(); ++i) {
            bool has_addr = i < addrs.size() && !addrs[i].empty();
            if (needs_resolving(hosts[i]) && !has_addr) return true;
        }
        return false;
    } catch (...) {
        return true;
    }
}

}  // namespace chat::pg
