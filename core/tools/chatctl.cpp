// chatctl: the operator CLI (migrations, agents, FAQ) on the same conninfo as nginx's chat_postgres.
//
// It is not nginx, so it blocks: synchronous libpq (PQconnectdbParams, PQexecParams).
// Keep code like this in core/tools/ only; nothing here is linked into the module.
// One file over 500 lines on purpose: one main whose commands (migrate, agent, faq, erase)
// share the blocking Db helper and the argument parser, and nothing else uses them.
//
// Exit status: 0 ok, 1 usage or invalid input, 2 database error, 3 not found or conflict.
// debian/rules builds the packaged chatctl with -DCHAT_SQL_DIR=/usr/share/nginx-chat/sql
#ifndef CHAT_SQL_DIR
#define CHAT_SQL_DIR "sql"
#endif

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <openssl/rand.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/input.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/limits_json.h"
#include "chat/password.h"
#include "chat/redis_client.h"
#include "chat/retention.h"
#include "chat/utf8.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;
constexpr int kExitDb = 2;
constexpr int kExitNotFound = 3;

// The advisory lock every migration transaction takes (the key scripts/migrate.sh used).
constexpr std::string_view kMigrateLockKey = "74061001";

// The admin API's limits are chat/limits.h's, so the CLI refuses what the API refuses.
namespace limits = chat::limits;
using chat::input::blank;
using chat::input::has_control;
using chat::input::valid_slug;

constexpr const char* kUsage = R"(usage: chatctl [--conninfo CONNINFO] COMMAND [ARGS]

Commands:
  migrate [--dir DIR]         apply the schema migrations DIR/NNN_*.sql (default DIR: )" CHAT_SQL_DIR R"()
                              not yet recorded in schema_migrations, in order; then every
                              function file DIR/functions/*.sql, in name order, unless it
                              is unchanged and the database still holds exactly its
                              functions; all of it in one transaction
  agent add USERNAME [--name "Display Name"] [--role agent|supervisor|admin] [--max N]
            [--site SITE]     create an agent (role default agent, max default 5) granted
                              the site (default: default); the password is read from stdin
  agent passwd USERNAME       set a new password (from stdin); revokes the agent's tokens
  agent list                  every agent, disabled ones too
  agent disable USERNAME      soft delete: no more logins, open chats back to the queue
  agent totp-reset USERNAME   turn the agent's second factor (TOTP) off and forget its
                              secret (a lost phone); the next login needs the password only
  faq import FILE.json|-      upsert the entries of a JSON array by slug, in one transaction,
                              then tell every nginx worker to reload the FAQ
                              (--keep-existing: only add slugs that are not there yet;
                              --site SITE: that site's FAQ, default: default)
  erase --email ADDRESS [--site SITE] [--redis HOST:PORT]
                              delete one customer's data everywhere (GDPR): every
                              customer with that email (any case; of SITE only with
                              --site, else of every site), all their conversations, open
                              ones too, with their messages, notes, ratings, bot feedback,
                              webhook outbox rows and the unmatched-question counts they
                              added; prints how many of each; then tells every nginx
                              worker to drop its cached copies, through Redis (--redis,
                              default $CHAT_REDIS) at once, and through Postgres within
                              2 s in any case. Exit 3 when no customer has that email
  limits                      the table of limits and enum values (chat/limits.h) as JSON
  faq export [--compact]      the FAQ (inactive entries too) as a JSON array ordered by
                              display_order, slug; `faq import` takes it back unchanged
                              (--site SITE: that site's FAQ, default: default)

Options:
  --conninfo CONNINFO   libpq connection string, key=value or postgresql:// URI; default
                        $CHAT_PG_CONNINFO. The same string as nginx's chat_postgres.
  --password-stdin      read the password as one line from stdin without a prompt (the
                        default when stdin is not a terminal; a terminal is prompted twice)
  -h, --help            this help

FAQ entries: {"slug", "question", "answer", "keywords": [...], "display_order": N,
"is_active": true|false}; slug, question and answer are required.

Exit status: 0 ok, 1 usage or invalid input, 2 database error, 3 not found or conflict.
)";

// Every failure ends up here: main prints "chatctl: <message>" and exits with `code`.
struct Failure : std::runtime_error {
    int code;
    bool show_usage = false;  // print the whole usage after the message
    Failure(int c, const std::string& m) : std::runtime_error(m), code(c) {}
};

[[noreturn]] void fail(int code, const std::string& message) { throw Failure(code, message); }
[[noreturn]] void usage_error(const std::string& message) {
    fail(kExitUsage, message + "\n(chatctl --help for usage)");
}

std::string trim_right(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

// --- command line --------------------------------------------------------------

struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::string> values;  // --opt VALUE
    std::set<std::string> flags;                // --flag
    bool help = false;

    std::optional<std::string> get(const std::string& k) const {
        auto it = values.find(k);
        if (it == values.end()) return std::nullopt;
        return it->second;
    }
    bool has(const std::string& k) const { return flags.count(k) > 0; }
};

const std::set<std::string> kValueOptions = {"--conninfo", "--dir", "--name", "--role", "--max", "--site",
                                             "--email", "--redis"};
const std::set<std::string> kFlagOptions = {"--password-stdin", "--compact", "--keep-existing"};

Args parse_args(int argc, char** argv) {
    Args a;
    bool options_done = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (options_done || arg.size() < 2 || arg[0] != '-' || arg == "-") {
            a.positional.push_back(std::move(arg));
            continue;
        }
        if (arg == "--") {
            options_done = true;
        } else if (arg == "-h" || arg == "--help") {
            a.help = true;
        } else if (auto eq = arg.find('='); eq != std::string::npos && kValueOptions.count(arg.substr(0, eq))) {
            a.values[arg.substr(0, eq)] = arg.substr(eq + 1);
        } else if (kValueOptions.count(arg)) {
            if (i + 1 >= argc) usage_error(arg + " needs a value");
            a.values[arg] = argv[++i];
        } else if (kFlagOptions.count(arg)) {
            a.flags.insert(arg);
        } else {
            usage_error("unknown option " + arg);
        }
    }
    return a;
}

// Refuses options that the command does not take, and a wrong number of operands.
void expect(const Args& a, std::size_t operands, std::initializer_list<const char*> allowed,
            const char* synopsis) {
    std::set<std::string> ok(allowed.begin(), allowed.end());
    ok.insert("--conninfo");
    for (const auto& [k, v] : a.values)
        if (!ok.count(k)) usage_error(k + " does not apply here; usage: chatctl " + synopsis);
    for (const auto& k : a.flags)
        if (!ok.count(k)) usage_error(k + " does not apply here; usage: chatctl " + synopsis);
    if (a.positional.size() != operands) usage_error(std::string("usage: chatctl ") + synopsis);
}

// --- Postgres -------------------------------------------------------------------

struct ResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using Res = std::unique_ptr<PGresult, ResultDeleter>;

// A database error: not found (CH404) and unique violations (23505) exit 3, the rest 2.
[[noreturn]] void db_fail(const PGresult* r, PGconn* c, const std::string& context) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    std::string msg = r ? PQresultErrorMessage(r) : "";
    if (msg.empty()) msg = PQerrorMessage(c);
    msg = trim_right(msg);
    const std::string s = state ? state : "";
    const int code = (s == "CH404" || s == "23505") ? kExitNotFound : kExitDb;
    fail(code, context.empty() ? msg : context + ": " + msg);
}

// Notices go to stderr, except the "already exists, skipping" of IF NOT EXISTS.
void on_notice(void*, const char* message) {
    if (std::strstr(message, "already exists, skipping")) return;
    std::fputs(message, stderr);
}

class Db {
public:
    explicit Db(const std::string& conninfo) {
        // dbname is expanded as a full conninfo; keywords before it are defaults it may override.
        const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
        const char* vals[] = {"10", "chatctl", conninfo.c_str(), nullptr};
        c_ = PQconnectdbParams(keys, vals, 1);
        if (!c_) fail(kExitDb, "cannot connect to Postgres: out of memory");
        if (PQstatus(c_) != CONNECTION_OK) {
            std::string msg = trim_right(PQerrorMessage(c_));
            PQfinish(c_);
            c_ = nullptr;
            fail(kExitDb, "cannot connect to Postgres: " + msg);
        }
        PQsetNoticeProcessor(c_, on_notice, nullptr);
    }
    ~Db() {
        if (c_) PQfinish(c_);
    }
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    // One statement with parameters (text format); throws Failure on any error.
    Res exec(const std::string& sql, const std::vector<std::optional<std::string>>& params = {},
             const std::string& context = "") {
        std::vector<const char*> p;
        p.reserve(params.size());
        for (const auto& v : params) p.push_back(v ? v->c_str() : nullptr);
        Res r(PQexecParams(c_, sql.c_str(), static_cast<int>(p.size()), nullptr, p.data(), nullptr,
                           nullptr, 0));
        check(r.get(), context);
        return r;
    }

    // A script of several statements (a migration file): the simple query protocol.
    void exec_script(const std::string& sql, const std::string& context) {
        Res r(PQexec(c_, sql.c_str()));
        check(r.get(), context);
    }

    void rollback_quietly() { Res r(PQexec(c_, "ROLLBACK")); }

private:
    void check(const PGresult* r, const std::string& context) {
        const auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return;
        db_fail(r, c_, context);
    }

    PGconn* c_ = nullptr;
};

// A transaction that rolls back unless committed (also when a Failure flies through).
class Tx {
public:
    explicit Tx(Db& db) : db_(db) { db_.exec("BEGIN"); }
    ~Tx() {
        if (open_) db_.rollback_quietly();
    }
    void commit() {
        db_.exec("COMMIT");
        open_ = false;
    }

private:
    Db& db_;
    bool open_ = true;
};

std::string conninfo_of(const Args& a) {
    if (auto c = a.get("--conninfo")) return *c;
    if (const char* e = std::getenv("CHAT_PG_CONNINFO"); e && *e) return e;
    usage_error("no database: pass --conninfo \"host=... dbname=... user=...\" or set CHAT_PG_CONNINFO");
}

std::string value(const PGresult* r, int row, int col) {
    return PQgetisnull(r, row, col) ? std::string() : std::string(PQgetvalue(r, row, col));
}

// --- migrate --------------------------------------------------------------------

struct Migration {
    long number;
    std::string version;  // the file name without .sql, as scripts/migrate.sh recorded it
    std::filesystem::path path;
};

// DIR/NNN_*.sql (exactly three digits, like scripts/migrate.sh's glob), in numeric order.
std::vector<Migration> find_migrations(const std::filesystem::path& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) usage_error("migrate: no such directory: " + dir.string());
    std::vector<Migration> out;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (name.size() < 9 || name.compare(name.size() - 4, 4, ".sql") != 0) continue;
        if (!std::isdigit(static_cast<unsigned char>(name[0])) ||
            !std::isdigit(static_cast<unsigned char>(name[1])) ||
            !std::isdigit(static_cast<unsigned char>(name[2])) || name[3] != '_')
            continue;
        if (!e.is_regular_file()) continue;
        out.push_back({std::stol(name.substr(0, 3)), name.substr(0, name.size() - 4), e.path()});
    }
    if (ec) fail(kExitUsage, "migrate: cannot read " + dir.string() + ": " + ec.message());
    std::sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) {
        return a.number != b.number ? a.number < b.number : a.version < b.version;
    });
    return out;
}

std::string read_file(const std::filesystem::path& p, const char* what) {
    std::ifstream in(p, std::ios::binary);
    if (!in) fail(kExitUsage, std::string(what) + ": cannot read " + p.string() + ": " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void say(const std::string& line) {
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);  // scripts/migrate.sh relays each line as it comes
}

// DIR/functions/*.sql in name order (the order they may depend on each other in); none
// when DIR has no functions/.
std::vector<std::filesystem::path> find_function_files(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    const std::filesystem::path fdir = dir / "functions";
    if (!std::filesystem::is_directory(fdir, ec)) return out;
    for (const auto& e : std::filesystem::directory_iterator(fdir, ec))
        if (e.is_regular_file() && e.path().extension() == ".sql") out.push_back(e.path());
    if (ec) fail(kExitUsage, "migrate: cannot read " + fdir.string() + ": " + ec.message());
    std::sort(out.begin(), out.end());
    return out;
}

// The advisory lock every migration transaction takes first.
void lock_migrations(Db& db) { db.exec("SELECT pg_advisory_xact_lock(" + std::string(kMigrateLockKey) + ")"); }

// SQL for what the database holds of the functions in `list` (a text[] of regprocedure
// texts): a digest of their pg_get_functiondef, or NULL when one of them is missing.
std::string fingerprint_sql(const std::string& list) {
    return "(SELECT CASE WHEN coalesce(bool_and(to_regprocedure(f) IS NOT NULL), true) THEN"
           " encode(sha256(convert_to(coalesce(string_agg(pg_get_functiondef(to_regprocedure(f)),"
           " E'\\n' ORDER BY f), ''), 'UTF8')), 'hex') END FROM unnest(" + list + ") f)";
}

// Schema migrations: each file once, recorded by name, inside the caller's transaction
// (which holds the migration lock). Returns how many it applied.
int apply_schema_migrations(Db& db, const std::vector<Migration>& files) {
    int applied = 0;
    for (const Migration& m : files) {
        Res done = db.exec("SELECT 1 FROM schema_migrations WHERE version = $1", {m.version});
        if (PQntuples(done.get()) > 0) continue;
        const std::string sql = read_file(m.path, "migrate");
        say("applying " + m.version);
        db.exec("INSERT INTO schema_migrations (version) VALUES ($1)", {m.version}, m.version);
        db.exec_script(sql, m.version);
        ++applied;
    }
    return applied;
}

// Function files are source: one is skipped only when its text is the one last applied
// AND the database still holds exactly the functions it defined then (none dropped or
// replaced by hand); otherwise it is applied again, inside the caller's transaction.
// Returns the line that says what happened, and whether it applied the file.
std::pair<std::string, bool> apply_function_file(Db& db, const std::filesystem::path& path) {
    const std::string name = "functions/" + path.filename().string();
    const std::string sql = read_file(path, "migrate");
    Res sum = db.exec("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')", {sql}, name);
    const std::string checksum = value(sum.get(), 0, 0);
    Res rec = db.exec("SELECT checksum, cardinality(functions), fingerprint = " + fingerprint_sql("functions") +
                          " FROM schema_functions WHERE file = $1",
                      {name}, name);
    std::string why = "new";
    if (PQntuples(rec.get()) > 0) {
        const bool same_text = value(rec.get(), 0, 0) == checksum;
        const bool intact = value(rec.get(), 0, 2) == "t";
        if (same_text && intact) return {name + ": unchanged, skipped (" + value(rec.get(), 0, 1) + " functions)", false};
        why = !same_text ? "file changed" : "functions differ from the database";
    }
    // The functions this file wrote: CREATE OR REPLACE writes a new pg_proc row (a new
    // ctid, our xmin) even for an unchanged definition. One transaction applies every
    // migration and file, so the rows written before this file are told apart by ctid.
    const std::string ours = "p.xmin = (pg_current_xact_id()::text::bigint % 4294967296)::text::xid";
    Res before = db.exec("SELECT coalesce(array_agg(p.oid::text || p.ctid::text), '{}')::text FROM pg_proc p WHERE " + ours,
                         {}, name);
    const std::string written_before = value(before.get(), 0, 0);
    db.exec_script(sql, name);
    Res fns = db.exec("SELECT coalesce(array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text),"
                      " '{}')::text FROM pg_proc p WHERE " + ours +
                      " AND p.oid::text || p.ctid::text <> ALL ($1::text[])",
                      {written_before}, name);
    const std::string functions = value(fns.get(), 0, 0);
    db.exec("INSERT INTO schema_functions (file, checksum, functions, fingerprint)"
            " VALUES ($1, $2, $3::text[], " + fingerprint_sql("$3::text[]") + ")"
            " ON CONFLICT (file) DO UPDATE SET checksum = EXCLUDED.checksum,"
            " functions = EXCLUDED.functions, fingerprint = EXCLUDED.fingerprint, applied_at = now()",
            {name, checksum, functions}, name);
    Res n = db.exec("SELECT cardinality($1::text[])", {functions});
    return {name + ": " + why + ", applied (" + value(n.get(), 0, 0) + " functions)", true};
}

int cmd_migrate(const Args& a) {
    expect(a, 1, {"--dir"}, "migrate [--dir DIR]");
    const std::filesystem::path dir = a.get("--dir").value_or(CHAT_SQL_DIR);
    const std::vector<Migration> files = find_migrations(dir);
    const std::vector<std::filesystem::path> function_files = find_function_files(dir);
    Db db(conninfo_of(a));

    {
        // Under the lock, so two first runs do not race on creating the tables.
        Tx tx(db);
        lock_migrations(db);
        db.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version    text PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())");
        db.exec("CREATE TABLE IF NOT EXISTS schema_functions ("
                " file        text PRIMARY KEY,"         // functions/NN_area.sql
                " checksum    text NOT NULL,"            // sha256 of the file's text
                " functions   text[] NOT NULL,"          // regprocedure of each function it wrote
                " fingerprint text,"                     // sha256 of their pg_get_functiondef
                " applied_at  timestamptz NOT NULL DEFAULT now())");
        tx.commit();
    }

    // The schema migrations and the function files in ONE transaction: a running nginx
    // sees the old schema with the old functions or the new schema with the new ones,
    // never a new table under a function written for the old one (e.g. an old
    // chat_append not counting unread messages into a counter a migration just added).
    Tx tx(db);
    lock_migrations(db);  // serializes with every other runner; each then finds its work done
    const int applied = apply_schema_migrations(db, files);
    Res total = db.exec("SELECT count(*) FROM schema_migrations");
    const std::string total_text = value(total.get(), 0, 0);
    int reapplied = 0;
    std::vector<std::string> lines;
    for (const auto& f : function_files) {
        auto [line, did] = apply_function_file(db, f);
        lines.push_back(std::move(line));
        reapplied += did ? 1 : 0;
    }
    tx.commit();

    say(std::to_string(applied) + " applied, " + total_text + " total");
    for (const auto& line : lines) say(line);
    if (!function_files.empty())
        say("functions: " + std::to_string(reapplied) + " files applied, " +
            std::to_string(function_files.size() - reapplied) + " unchanged");
    return kExitOk;
}

// --- agents ---------------------------------------------------------------------

std::string read_line_no_echo(const char* prompt) {
    std::fputs(prompt, stderr);
    std::fflush(stderr);
    termios old{};
    const bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    std::string line;
    const bool got = static_cast<bool>(std::getline(std::cin, line));
    if (tty) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    std::fputc('\n', stderr);
    if (!got) fail(kExitUsage, "no password given");
    return line;
}

// The password: never from argv (visible in ps). A terminal is prompted twice; otherwise
// (or with --password-stdin) one line of stdin.
std::string read_password(const Args& a) {
    std::string pw;
    if (!a.has("--password-stdin") && isatty(STDIN_FILENO)) {
        pw = read_line_no_echo("Password: ");
        if (read_line_no_echo("Repeat password: ") != pw) fail(kExitUsage, "the passwords do not match");
    } else if (!std::getline(std::cin, pw)) {
        fail(kExitUsage, "no password on stdin (one line expected)");
    }
    if (!pw.empty() && pw.back() == '\r') pw.pop_back();
    if (!chat::valid_utf8(pw)) fail(kExitUsage, "the password is not valid UTF-8");
    if (chat::utf8_length(pw) < limits::kPasswordMinChars)
        fail(kExitUsage, "the password must have at least " + std::to_string(limits::kPasswordMinChars) + " characters");
    if (pw.size() > limits::kPasswordMaxBytes) fail(kExitUsage, "the password is too long");
    return pw;
}

std::string hash_password(const std::string& pw) {
    std::array<std::byte, chat::password::kSaltBytes> salt{};
    if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1)
        fail(kExitDb, "RAND_bytes failed");
    std::string h = chat::password::hash(pw, salt);
    if (h.empty()) fail(kExitDb, "scrypt failed");
    return h;
}

void check_username(const std::string& u) {
    if (!limits::kUsernameBytes.contains(static_cast<std::int64_t>(u.size())) || has_control(u) || blank(u) ||
        u.find(' ') != std::string::npos || !chat::valid_utf8(u))
        usage_error("USERNAME must be " + limits::range_text(limits::kUsernameBytes) +
                    " bytes without spaces or control characters");
}

// --site SITE (chat_site's name), default "default".
std::string site_of(const Args& a) {
    std::string site = a.get("--site").value_or(std::string(limits::kSiteDefault));
    if (!limits::site_name_ok(site))
        usage_error("--site must be " + limits::range_text(limits::kSiteBytes) +
                    " of a-z 0-9 . _ - starting with a letter or digit");
    return site;
}

int cmd_agent_add(const Args& a) {
    expect(a, 3, {"--name", "--role", "--max", "--site", "--password-stdin"},
           "agent add USERNAME [--name \"Display Name\"] [--role agent|supervisor|admin] [--max N] [--site SITE]");
    const std::string& username = a.positional[2];
    check_username(username);
    const std::string name = a.get("--name").value_or(username);
    if (blank(name) || !limits::kDisplayNameBytes.contains(static_cast<std::int64_t>(name.size())) || has_control(name) || !chat::valid_utf8(name))
        usage_error("--name must be " + limits::range_text(limits::kDisplayNameBytes) + " bytes of text");
    const std::string role = a.get("--role").value_or(std::string(limits::kRoleDefault));
    if (!limits::one_of(limits::kRoles, role))
        usage_error("--role must be " + limits::names_text(limits::kRoles));
    long max = limits::kMaxActiveChatsDefault;
    if (auto m = a.get("--max")) {
        char* end = nullptr;
        errno = 0;
        max = std::strtol(m->c_str(), &end, 10);
        if (m->empty() || *end || errno || !limits::kMaxActiveChats.contains(max))
            usage_error("--max must be an integer in " + limits::range_text(limits::kMaxActiveChats));
    }
    const std::string site = site_of(a);
    const std::string hash = hash_password(read_password(a));

    Db db(conninfo_of(a));
    Res r = [&] {
        try {
            return db.exec("SELECT chat_admin_agent_create($1, $2, $3, $4, $5::int, ARRAY[$6])->'agent'->>'id'",
                           {username, name, hash, role, std::to_string(max), site});
        } catch (const Failure& f) {
            if (f.code == kExitNotFound) fail(kExitNotFound, "agent " + username + " already exists");
            throw;
        }
    }();
    say("added " + role + " " + username + " (" + name + "), id " + value(r.get(), 0, 0));
    return kExitOk;
}

int cmd_agent_passwd(const Args& a) {
    expect(a, 3, {"--password-stdin"}, "agent passwd USERNAME");
    const std::string& username = a.positional[2];
    Db db(conninfo_of(a));
    // Look the agent up first, so a typo fails before the password is asked for.
    Res who = db.exec("SELECT id FROM agents WHERE lower(username) = lower($1) AND deleted_at IS NULL",
                      {username});
    if (PQntuples(who.get()) == 0) fail(kExitNotFound, "no active agent " + username);
    const std::string id = value(who.get(), 0, 0);
    const std::string hash = hash_password(read_password(a));
    db.exec("SELECT chat_admin_agent_update($1::uuid, '{}'::jsonb, $2, NULL, NULL)", {id, hash}, "agent " + username);
    say("password of " + username + " changed; earlier tokens are revoked");
    return kExitOk;
}

int cmd_agent_disable(const Args& a) {
    expect(a, 3, {}, "agent disable USERNAME");
    const std::string& username = a.positional[2];
    Db db(conninfo_of(a));
    Res r = db.exec(
        "SELECT jsonb_array_length(chat_admin_agent_delete(id, NULL)->'requeued') FROM agents"
        " WHERE lower(username) = lower($1) AND deleted_at IS NULL",
        {username}, "agent " + username);
    if (PQntuples(r.get()) == 0) fail(kExitNotFound, "no active agent " + username);
    say("disabled " + username + "; " + value(r.get(), 0, 0) + " open conversation(s) back in the queue");
    return kExitOk;
}

int cmd_agent_totp_reset(const Args& a) {
    expect(a, 3, {}, "agent totp-reset USERNAME");
    const std::string& username = a.positional[2];
    Db db(conninfo_of(a));
    Res r = db.exec("SELECT (t->>'was_enabled') FROM chat_agent_totp_reset($1) AS t", {username},
                    "agent " + username);
    if (PQntuples(r.get()) == 0 || PQgetisnull(r.get(), 0, 0)) fail(kExitNotFound, "no active agent " + username);
    if (value(r.get(), 0, 0) == "true")
        say("two-factor authentication of " + username + " turned off and its secret forgotten; " + username +
            " logs in with the password and may set it up again");
    else
        say(username + " had no two-factor authentication enabled; any secret set up and not enabled is forgotten");
    return kExitOk;
}

// Display width: code points (good enough for names in a terminal table).
std::size_t width(const std::string& s) {
    return chat::valid_utf8(s) ? chat::utf8_length(s) : s.size();
}

int cmd_agent_list(const Args& a) {
    expect(a, 2, {}, "agent list");
    Db db(conninfo_of(a));
    Res r = db.exec(
        "SELECT username, display_name, role, presence, max_active_chats::text,"
        "       chat_agent_active(id)::text,"
        "       coalesce(to_char(deleted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-')"
        "  FROM agents ORDER BY lower(username)");
    std::vector<std::vector<std::string>> rows = {
        {"USERNAME", "DISPLAY NAME", "ROLE", "PRESENCE", "MAX", "ACTIVE", "DELETED"}};
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        std::vector<std::string> row;
        for (int j = 0; j < 7; ++j) row.push_back(value(r.get(), i, j));
        rows.push_back(std::move(row));
    }
    std::vector<std::size_t> w(7, 0);
    for (const auto& row : rows)
        for (std::size_t j = 0; j < row.size(); ++j) w[j] = std::max(w[j], width(row[j]));
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t j = 0; j < row.size(); ++j) {
            line += row[j];
            if (j + 1 < row.size()) line.append(w[j] - width(row[j]) + 2, ' ');
        }
        say(line);
    }
    return kExitOk;
}

// --- FAQ --------------------------------------------------------------------------

struct FaqEntry {
    std::string slug, question, answer;
    std::vector<std::string> keywords;
    std::int64_t display_order = 0;
    bool is_active = true;
};

std::vector<FaqEntry> parse_faq_file(const std::string& text, const std::string& file) {
    chat::json::Limits limits;
    limits.max_bytes = 64u << 20;
    limits.max_members = 100000;
    auto parsed = chat::json::parse(text, limits);
    if (!parsed) fail(kExitUsage, file + ": " + parsed.error().message);
    const chat::json::Array* arr = parsed.value().as_array();
    if (!arr) fail(kExitUsage, file + ": expected a JSON array of FAQ entries");

    std::vector<FaqEntry> out;
    std::set<std::string> seen;
    static const std::set<std::string> known = {"slug", "question", "answer", "keywords",
                                                "display_order", "is_active"};
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const chat::json::Value& e = (*arr)[i];
        const std::string where = file + ": entry " + std::to_string(i);
        auto bad = [&](const std::string& what) { fail(kExitUsage, where + ": " + what); };
        const chat::json::Object* obj = e.as_object();
        if (!obj) bad("expected an object");
        for (const auto& m : *obj)
            if (!known.count(m.key)) bad("unknown field \"" + m.key + "\"");
        FaqEntry f;
        const std::string* slug = e.find_string("slug");
        if (!slug || !valid_slug(*slug)) bad("slug must match " + std::string(limits::kFaqSlugPattern));
        f.slug = *slug;
        const std::string at = where + " (" + f.slug + ")";
        auto text_field = [&](const char* name, std::int64_t max) {
            const std::string* s = e.find_string(name);
            if (!s || blank(*s) || static_cast<std::int64_t>(chat::utf8_length(*s)) > max)
                fail(kExitUsage, at + ": " + name + " must be non-empty text of at most " +
                                     std::to_string(max) + " characters");
            return *s;
        };
        f.question = text_field("question", limits::kFaqQuestionChars.max);
        f.answer = text_field("answer", limits::kFaqAnswerChars.max);
        if (const auto* k = e.find("keywords"); k && !k->is_null()) {
            const chat::json::Array* ks = k->as_array();
            if (!ks || ks->size() > limits::kFaqKeywordsMax)
                fail(kExitUsage, at + ": keywords must be an array of at most " +
                                     std::to_string(limits::kFaqKeywordsMax) + " strings");
            for (const auto& kv : *ks) {
                const std::string* s = kv.as_string();
                if (!s || blank(*s) || !limits::kFaqKeywordChars.contains(static_cast<std::int64_t>(chat::utf8_length(*s))))
                    fail(kExitUsage, at + ": each keyword must be non-empty text of at most " +
                                         std::to_string(limits::kFaqKeywordChars.max) + " characters");
                f.keywords.push_back(*s);
            }
        }
        if (const auto* o = e.find("display_order"); o && !o->is_null()) {
            auto n = o->as_int();
            if (!n || !limits::kFaqDisplayOrder.contains(*n))
                fail(kExitUsage, at + ": display_order must be an integer in " + limits::range_text(limits::kFaqDisplayOrder));
            f.display_order = *n;
        }
        if (const auto* b = e.find("is_active"); b && !b->is_null()) {
            auto v = b->as_bool();
            if (!v) fail(kExitUsage, at + ": is_active must be true or false");
            f.is_active = *v;
        }
        if (!seen.insert(f.slug).second) fail(kExitUsage, at + ": slug appears twice in the file");
        out.push_back(std::move(f));
    }
    return out;
}

int cmd_faq_import(const Args& a) {
    expect(a, 3, {"--keep-existing", "--site"}, "faq import FILE.json|- [--keep-existing] [--site SITE]");
    const std::string site = site_of(a);
    const std::string& file = a.positional[2];
    std::string text;
    if (file == "-") {
        std::ostringstream ss;
        ss << std::cin.rdbuf();
        text = ss.str();
    } else {
        text = read_file(file, "faq import");
    }
    const std::vector<FaqEntry> entries = parse_faq_file(text, file == "-" ? "stdin" : file);

    const std::string upsert =
        "INSERT INTO faq_entries (slug, question, answer, keywords, display_order, is_active, site)"
        " VALUES ($1, $2, $3, ARRAY(SELECT jsonb_array_elements_text($4::jsonb)), $5::int, $6::bool, $7)"
        " ON CONFLICT (site, slug) DO " +
        std::string(a.has("--keep-existing")
                        ? "NOTHING"
                        : "UPDATE SET question = EXCLUDED.question, answer = EXCLUDED.answer,"
                          " keywords = EXCLUDED.keywords, display_order = EXCLUDED.display_order,"
                          " is_active = EXCLUDED.is_active, updated_at = clock_timestamp()"
                          " WHERE (faq_entries.question, faq_entries.answer, faq_entries.keywords,"
                          "        faq_entries.display_order, faq_entries.is_active)"
                          " IS DISTINCT FROM (EXCLUDED.question, EXCLUDED.answer, EXCLUDED.keywords,"
                          "        EXCLUDED.display_order, EXCLUDED.is_active)") +
        " RETURNING (xmax = 0)";

    Db db(conninfo_of(a));
    Tx tx(db);
    int inserted = 0, updated = 0, unchanged = 0;
    for (const FaqEntry& f : entries) {
        chat::json::Value kw{chat::json::Array{}};
        for (const auto& k : f.keywords) kw.push_back(chat::json::Value(k));
        Res r = db.exec(upsert,
                        {f.slug, f.question, f.answer, chat::json::to_string(kw),
                         std::to_string(f.display_order), f.is_active ? "true" : "false", site},
                        "faq " + f.slug);
        if (PQntuples(r.get()) == 0)
            ++unchanged;
        else if (value(r.get(), 0, 0) == "t")
            ++inserted;
        else
            ++updated;
    }
    std::string version;
    if (inserted + updated > 0) {
        // Every nginx worker on every node reloads its FAQ cache (at commit).
        Res v = db.exec("SELECT chat_faq_bump()");
        version = value(v.get(), 0, 0);
    }
    tx.commit();
    say("faq import: " + std::to_string(inserted) + " added, " + std::to_string(updated) + " updated, " +
        std::to_string(unchanged) + " unchanged" + (version.empty() ? "" : "; FAQ version " + version));
    return kExitOk;
}

void append_entry(std::string& out, const FaqEntry& f, bool pretty) {
    using chat::json::append_quoted;
    const char* nl = pretty ? "\n    " : "";
    const char* sep = pretty ? ": " : ":";
    auto field = [&](const char* k, bool first) {
        if (!first) out += ',';
        out += nl;
        append_quoted(out, k);
        out += sep;
    };
    out += pretty ? "  {" : "{";
    field("slug", true), append_quoted(out, f.slug);
    field("question", false), append_quoted(out, f.question);
    field("answer", false), append_quoted(out, f.answer);
    field("keywords", false);
    out += '[';
    for (std::size_t i = 0; i < f.keywords.size(); ++i) {
        if (i) out += pretty ? ", " : ",";
        append_quoted(out, f.keywords[i]);
    }
    out += ']';
    field("display_order", false), out += std::to_string(f.display_order);
    field("is_active", false), out += f.is_active ? "true" : "false";
    out += pretty ? "\n  }" : "}";
}

int cmd_faq_export(const Args& a) {
    expect(a, 2, {"--compact", "--site"}, "faq export [--compact] [--site SITE]");
    const std::string site = site_of(a);
    Db db(conninfo_of(a));
    Res r = db.exec(
        "SELECT f.slug, f.question, f.answer, to_jsonb(f.keywords)::text, f.display_order::text,"
        "       f.is_active::text FROM faq_entries f WHERE f.site = $1 ORDER BY f.display_order, f.slug",
        {site});
    const bool pretty = !a.has("--compact");
    std::string out = "[";
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        FaqEntry f;
        f.slug = value(r.get(), i, 0);
        f.question = value(r.get(), i, 1);
        f.answer = value(r.get(), i, 2);
        auto kw = chat::json::parse(value(r.get(), i, 3));
        if (kw && kw.value().as_array())
            for (const auto& k : *kw.value().as_array())
                if (const std::string* s = k.as_string()) f.keywords.push_back(*s);
        f.display_order = std::stoll(value(r.get(), i, 4));
        f.is_active = value(r.get(), i, 5) == "true";
        if (i) out += ',';
        if (pretty) out += '\n';
        append_entry(out, f, pretty);
    }
    out += (pretty && PQntuples(r.get()) > 0) ? "\n]" : "]";
    say(out);
    return kExitOk;
}

// --- erase ------------------------------------------------------------------------

// Publishes the forget messages of `sessions` and the end messages of `conversations` on
// chat:events (what bus::Bus::heard reads: cached copies dropped, sockets closed): the
// number of nginx workers that heard them, or the reason it failed.
std::string tell_nginx(const std::string& host_port, const std::vector<std::string>& sessions,
                       const std::vector<std::string>& conversations) {
    auto ep = chat::redis::resolve_endpoint(host_port);
    if (!ep.ok()) return "cannot resolve Redis " + host_port + ": " + ep.error().message;
    const timeval tv{2, 0};
    std::unique_ptr<redisContext, void (*)(redisContext*)> c(
        redisConnectWithTimeout(ep.value().ip.c_str(), ep.value().port, tv), redisFree);
    if (!c || c->err) return "cannot connect to Redis " + host_port + ": " + (c ? c->errstr : "out of memory");
    redisSetTimeout(c.get(), tv);
    long long heard = 0;
    std::vector<std::string> msgs = chat::retention::forget_messages(sessions);
    for (std::string& m : chat::retention::end_messages(conversations)) msgs.push_back(std::move(m));
    for (const std::string& m : msgs) {
        std::unique_ptr<redisReply, void (*)(void*)> r(
            static_cast<redisReply*>(redisCommand(c.get(), "PUBLISH chat:events %b", m.data(), m.size())),
            freeReplyObject);
        if (!r) return std::string("Redis PUBLISH failed: ") + c->errstr;
        if (r->type != REDIS_REPLY_INTEGER) return "Redis PUBLISH failed: " + std::string(r->str ? r->str : "?");
        heard = std::max(heard, r->integer);
    }
    return "told " + std::to_string(heard) + " nginx workers through Redis";
}

int cmd_erase(const Args& a) {
    expect(a, 1, {"--email", "--site", "--redis"}, "erase --email ADDRESS [--site SITE] [--redis HOST:PORT]");
    const std::optional<std::string> email = a.get("--email");
    if (!email) usage_error("erase needs --email ADDRESS");
    if (!chat::input::valid_email(*email)) usage_error("--email must be an email address");
    std::optional<std::string> site;
    if (a.get("--site")) site = site_of(a);
    std::string redis = a.get("--redis").value_or("");
    if (redis.empty())
        if (const char* e = std::getenv("CHAT_REDIS"); e) redis = e;

    Db db(conninfo_of(a));
    Tx tx(db);
    Res r = db.exec("SELECT chat_erase_customer($1, $2)::text", {*email, site}, "erase");
    auto v = chat::json::parse(value(r.get(), 0, 0));
    if (!v || !v.value().as_object()) fail(kExitDb, "erase: unexpected answer from chat_erase_customer");
    if (v.value().find_int("customers").value_or(0) == 0)
        fail(kExitNotFound, "erase: no customer with email " + *email + (site ? " on site " + *site : ""));
    tx.commit();

    // customers and conversations first, then each kind of row as the database named it
    std::vector<std::string> sessions, conversations;
    auto strings = [](const chat::json::Value& arr, std::vector<std::string>& out) {
        if (const auto* a = arr.as_array())
            for (const auto& s : *a)
                if (const std::string* str = s.as_string()) out.push_back(*str);
    };
    say("customers: " + std::to_string(v.value().find_int("customers").value_or(0)));
    say("conversations: " + std::to_string(v.value().find_int("conversations").value_or(0)));
    for (const auto& m : *v.value().as_object()) {
        if (m.key == "customers" || m.key == "conversations") continue;
        if (m.key == "sessions" || m.key == "conversation_ids") {
            strings(m.value, m.key == "sessions" ? sessions : conversations);
            continue;
        }
        say(m.key + ": " + std::to_string(m.value.as_int().value_or(0)));
    }
    const std::string cache = redis.empty() ? "no Redis given (--redis, CHAT_REDIS)" : tell_nginx(redis, sessions, conversations);
    say("sessions: " + std::to_string(sessions.size()) + " (" + cache +
        "; every nginx worker drops their cached copies and closes their sockets within 2 s in any case)");
    return kExitOk;
}

// --- main -------------------------------------------------------------------------

int run(int argc, char** argv) {
    const Args a = parse_args(argc, argv);
    if (a.help) {
        std::fputs(kUsage, stdout);
        return kExitOk;
    }
    const auto& p = a.positional;
    if (p.empty()) {
        Failure f(kExitUsage, "no command given");
        f.show_usage = true;
        throw f;
    }
    const std::string cmd = p[0];
    const std::string sub = p.size() > 1 ? p[1] : "";
    if (cmd == "help") {
        std::fputs(kUsage, stdout);
        return kExitOk;
    }
    if (cmd == "migrate") return cmd_migrate(a);
    if (cmd == "limits") {
        expect(a, 1, {}, "limits");
        std::cout << limits::to_json() << "\n";
        return kExitOk;
    }
    if (cmd == "agent") {
        if (sub == "add") return cmd_agent_add(a);
        if (sub == "passwd") return cmd_agent_passwd(a);
        if (sub == "list") return cmd_agent_list(a);
        if (sub == "disable") return cmd_agent_disable(a);
        if (sub == "totp-reset") return cmd_agent_totp_reset(a);
        usage_error(sub.empty() ? "agent: add, passwd, list, disable or totp-reset?" : "unknown command: agent " + sub);
    }
    if (cmd == "erase") return cmd_erase(a);
    if (cmd == "faq") {
        if (sub == "import") return cmd_faq_import(a);
        if (sub == "export") return cmd_faq_export(a);
        usage_error(sub.empty() ? "faq: import or export?" : "unknown command: faq " + sub);
    }
    Failure f(kExitUsage, "unknown command: " + cmd);
    f.show_usage = true;
    throw f;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const Failure& f) {
        std::fprintf(stderr, "chatctl: %s\n", f.what());
        if (f.show_usage) std::fputs(kUsage, stderr);
        return f.code;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chatctl: %s\n", e.what());
        return kExitDb;
    }
}
