// Runs a program for the core tests that need one (chatctl migrate into a test schema).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace chat::testing {

// Runs a program (no shell) to completion: its exit status (-1 when it did not exit) and
// what it printed on stdout and stderr.
inline std::pair<int, std::string> run_program(const std::vector<std::string>& argv) {
    int fds[2];
    if (::pipe(fds) != 0) return {-1, "pipe failed"};
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fds[1], 1);
        ::dup2(fds[1], 2);
        ::close(fds[0]);
        ::close(fds[1]);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return {-1, "fork failed"};
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Migrates the schema a conninfo names exactly as `make migrate` does (chatctl migrate over the
// repository's sql/): "" when it worked, else why not.
inline std::string chatctl_migrate(const std::string& conninfo) {
    auto sql = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "sql";
    auto [rc, out] = run_program({CHAT_CHATCTL, "--conninfo", conninfo, "migrate", "--dir", sql.string()});
    return rc == 0 ? std::string() : "chatctl migrate failed (" + std::to_string(rc) + "): " + out;
}

}  // namespace chat::testing
