// Reading a PGresult safely (QueryResult) and turning failed results into chat::Error by SQLSTATE.
#include <cstring>
#include <optional>
#include <string_view>

#include "pg_detail.h"

namespace chat::pg {

void QueryResult::Free::operator()(pg_result* r) const noexcept { PQclear(r); }

QueryResult::QueryResult(pg_result* owned) noexcept
    : res_(owned), rows_(owned ? PQntuples(owned) : 0), cols_(owned ? PQnfields(owned) : 0) {}
QueryResult::~QueryResult() = default;

// (a moved-from result has no res_: its counts are not read)
int QueryResult::rows() const { return res_ ? rows_ : 0; }
int QueryResult::cols() const { return res_ ? cols_ : 0; }

int QueryResult::col(std::string_view name) const {
    if (!res_) return -1;
    // Exact, case-sensitive match first: PQfnumber would fold case and strip quotes.
    for (int i = 0, n = cols(); i < n; ++i)
        if (name == PQfname(res_.get(), i)) return i;
    return -1;
}

// Bounds are checked here because libpq complains through the notice processor and
// returns NULL on out-of-range access. PQgetvalue is "" for NULL: only an empty value needs
// PQgetisnull.
std::optional<std::string_view> QueryResult::text(int row, int c) const {
    if (!res_ || row < 0 || row >= rows_ || c < 0 || c >= cols_) return std::nullopt;
    const char* v = PQgetvalue(res_.get(), row, c);
    if (*v == '\0' && PQgetisnull(res_.get(), row, c)) return std::nullopt;
    return std::string_view(v, static_cast<std::size_t>(PQgetlength(res_.get(), row, c)));
}

int BatchRow::cols() const { return res_ ? res_->cols() : 0; }
std::optional<std::string_view> BatchRow::text(int col) const {
    return res_ ? res_->text(row_, col) : std::nullopt;
}

std::string_view QueryResult::command_tuples() const { return res_ ? PQcmdTuples(res_.get()) : ""; }

namespace detail {

Error map_server_error(const char* sqlstate, const char* primary) {
    std::string_view st = sqlstate ? sqlstate : "";
    std::string msg = primary ? primary : "unknown database error";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();

    struct Custom {
        const char* state;
        Errc code;
    };
    static constexpr Custom custom[] = {
        {"CH400", Errc::bad_request}, {"CH403", Errc::forbidden},  {"CH404", Errc::not_found},
        {"CH409", Errc::invalid_state}, {"CH422", Errc::validation},
    };
    for (const auto& c : custom)
        if (st == c.state) return make_error(c.code, msg);  // the RAISE message, for the client

    std::string logged = (st.empty() ? std::string("?????") : std::string(st)) + ": " + msg;
    if (st == "23505") return make_error(Errc::conflict, logged);
    // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now;
    // 53300: too many connections; 57014: statement timeout / cancel.
    if (st.starts_with("08") || st == "57P01" || st == "57P02" || st == "57P03" || st == "53300" ||
        st == "57014")
        return make_error(Errc::unavailable, logged);
    return make_error(Errc::internal, logged);
}

Result<QueryResult> to_result(PgResultPtr res, bool conn_bad) {
    if (!res) return make_error(Errc::unavailable, "no result from the database");
    switch (PQresultStatus(res.get())) {
        case PGRES_TUPLES_OK:
        case PGRES_COMMAND_OK:
        case PGRES_EMPTY_QUERY:
            return QueryResult(res.release());  // complete: it ran, whatever happens next
        default:
            break;
    }
    const char* state = PQresultErrorField(res.get(), PG_DIAG_SQLSTATE);
    const char* primary = PQresultErrorField(res.get(), PG_DIAG_MESSAGE_PRIMARY);
    if (!primary || !*primary) primary = PQresultErrorMessage(res.get());
    Error e = map_server_error(state, primary);
    if (conn_bad) e.code = Errc::unavailable;
    else if (PQresultStatus(res.get()) != PGRES_FATAL_ERROR && PQresultStatus(res.get()) != PGRES_NONFATAL_ERROR)
        e = make_error(Errc::internal, std::string("unsupported result status ") + PQresStatus(PQresultStatus(res.get())));
    return e;
}

}  // namespace detail
}  // namespace chat::pg
