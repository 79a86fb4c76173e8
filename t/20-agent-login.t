# Agent login, tokens and logout (API.md "Agent endpoints"): login gives a signed
# token in the body and the chat_agent cookie, a wrong password and an unknown user
# are indistinguishable, cookie writes need X-Chat-Csrf, logout revokes the token,
# and 10 failures for one username and address give 429 with Retry-After.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use Time::HiRes qw(time);

# The per-address limit (t/24's) is raised: failures from 127.0.0.1 count in Postgres across
# nginx instances, so the ASan stage's run of this file must not limit the next one's.
my $ng = ChatTest::start_nginx(workers => 3,
                               http => '    chat_login_limit failures=10 address=1000 window=5m;');

my $run = sprintf('%d%d', $$, int(time * 1000) % 100000);   # unique per run
my @seen;    # every response of this file, to check no password ever leaks

sub req {
    my ($method, $path, %o) = @_;
    my $r = $ng->request($method, $path, %o);
    push @seen, $r;
    return $r;
}
sub bearer { { Authorization => "Bearer $_[0]" } }
sub login  { req('POST', '/chat/api/v1/agent/login', json => { username => $_[0], password => $_[1] }) }

# the admin creates this file's agents
my $admin = login('admin', 'Admin@123');
is($admin->{status}, 200, 'the seeded admin can log in');
my $admin_auth = bearer($admin->{json}{token});

my $user  = "t20.agent.$run";
my $pass  = "T20-Secret-$run!";
my $other = "t20.other.$run";
my $opass = "T20-Other-$run!";
for ([$user, $pass, 'T20 Agent'], [$other, $opass, 'T20 Other']) {
    my $c = req('POST', '/chat/api/v1/admin/agents', headers => $admin_auth,
                json => { username => $_->[0], password => $_->[1], display_name => $_->[2],
                          role => 'agent', max_active_chats => 3 });
    is($c->{status}, 201, "the admin creates agent $_->[0]") or diag($c->{body});
}

# --- login --------------------------------------------------------------------

my $ok = login($user, $pass);
is($ok->{status}, 200, 'a correct username and password log in with 200');
my $token = $ok->{json}{token};
ok(defined $token && length $token > 20, 'the answer carries a token');
my $agent = $ok->{json}{agent};
is($agent->{username}, $user, 'and the Agent object with the username');
is($agent->{display_name}, 'T20 Agent', 'its display_name');
is($agent->{role}, 'agent', 'its role');
like($agent->{id} // '', qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a UUID id');
is($agent->{max_active_chats}, 3, 'its capacity');
ok(exists $agent->{presence} && exists $agent->{active_chats}, 'its presence and active_chats');
ok(!exists $agent->{password} && !exists $agent->{password_hash}, 'and no password or hash');

my $cookie = $ok->{headers}{'set-cookie'} // '';
$cookie = join("\n", @$cookie) if ref $cookie;
like($cookie, qr/(?:^|\n)chat_agent=[^;\s]+/, 'the token is also set as the chat_agent cookie');
my ($cookie_token) = $cookie =~ /chat_agent=([^;\s]+)/;
is($cookie_token, $token, 'the cookie holds the same token as the body');
like($cookie, qr/HttpOnly/i, 'the cookie is HttpOnly');
like($cookie, qr/Path=\/chat(?:;|$)/m, 'the cookie is scoped to Path=/chat');

my $ok_upper = login(uc $user, $pass);
is($ok_upper->{status}, 200, 'the username is matched case-insensitively');

# --- bad credentials ----------------------------------------------------------

my $wrong   = login($user, 'not-the-password-123');
my $unknown = login("t20.nobody.$run", 'not-the-password-123');
is($wrong->{status}, 401, 'a wrong password is 401');
is($unknown->{status}, 401, 'an unknown user is 401');
is($wrong->{json}{error}{code}, 'unauthorized', 'with code unauthorized');
is($wrong->{body}, $unknown->{body}, 'a wrong password and an unknown user get the same body');
ok(!$wrong->{headers}{'set-cookie'}, 'a failed login sets no cookie');

is(req('POST', '/chat/api/v1/agent/login', body => 'not json',
       headers => { 'content-type' => 'application/json' })->{status}, 400,
   'a login body that is not JSON is 400');
my $missing = req('POST', '/chat/api/v1/agent/login', json => { username => $user });
ok($missing->{status} == 400 || $missing->{status} == 422 || $missing->{status} == 401,
   'a login without a password is refused') or diag($missing->{status});

my $get_login = req('GET', '/chat/api/v1/agent/login');
is($get_login->{status}, 405, 'GET on the login endpoint is 405');
is($get_login->{json}{error}{code}, 'method_not_allowed', 'with code method_not_allowed');
my $nowhere = req('GET', '/chat/api/v1/agent/nowhere', headers => bearer($token));
is($nowhere->{status}, 404, 'an unknown agent endpoint is 404');
is($nowhere->{json}{error}{code}, 'not_found', 'with code not_found');

# --- /agent/me: bearer and cookie ----------------------------------------------

for my $i (1 .. 6) {    # several requests, so several workers check the token
    my $me = req('GET', '/chat/api/v1/agent/me', headers => bearer($token));
    is($me->{status}, 200, "GET /agent/me with the Bearer token answers 200 (try $i)");
    is($me->{json}{agent}{id}, $agent->{id}, '  with this agent');
}
my $me_c = req('GET', '/chat/api/v1/agent/me', headers => { Cookie => "chat_agent=$token" });
is($me_c->{status}, 200, 'GET /agent/me with the chat_agent cookie answers 200');
is($me_c->{json}{agent}{username}, $user, 'with this agent');

my $none = req('GET', '/chat/api/v1/agent/me');
is($none->{status}, 401, 'GET /agent/me without credentials is 401');
is($none->{json}{error}{code}, 'unauthorized', 'with code unauthorized');
my $forged = substr($token, 0, -3) . (substr($token, -3) eq 'AAA' ? 'BBB' : 'AAA');
is(req('GET', '/chat/api/v1/agent/me', headers => bearer($forged))->{status}, 401,
   'a forged token is 401');
is(req('GET', '/chat/api/v1/agent/me', headers => bearer('garbage'))->{status}, 401,
   'a garbage token is 401');

# a customer's session token is not an agent token
my $cust = req('POST', '/chat/api/v1/session', json => {});
is(req('GET', '/chat/api/v1/agent/me', headers => bearer($cust->{json}{token}))->{status}, 401,
   "a customer's session token is not accepted as an agent token");

# --- CSRF on cookie writes ------------------------------------------------------

my $no_csrf = req('POST', '/chat/api/v1/agent/presence', json => { presence => 'away' },
                  headers => { Cookie => "chat_agent=$token" });
is($no_csrf->{status}, 403, 'a cookie-authenticated write without X-Chat-Csrf is 403');
is($no_csrf->{json}{error}{code}, 'forbidden', 'with code forbidden');
is(req('GET', '/chat/api/v1/agent/me', headers => bearer($token))->{json}{agent}{presence},
   'offline', 'and it changed nothing');
my $with_csrf = req('POST', '/chat/api/v1/agent/presence', json => { presence => 'away' },
                    headers => { Cookie => "chat_agent=$token", 'X-Chat-Csrf' => '1' });
is($with_csrf->{status}, 200, 'with X-Chat-Csrf: 1 the same write answers 200');
is($with_csrf->{json}{agent}{presence}, 'away', 'and sets the presence');
my $bearer_write = req('POST', '/chat/api/v1/agent/presence', json => { presence => 'offline' },
                       headers => bearer($token));
is($bearer_write->{status}, 200, 'a Bearer write needs no CSRF header');
my $bad_presence = req('POST', '/chat/api/v1/agent/presence', json => { presence => 'sleeping' },
                       headers => bearer($token));
is($bad_presence->{status}, 422, 'an unknown presence is 422');
is($bad_presence->{json}{error}{code}, 'validation', 'with code validation');

# --- logout ------------------------------------------------------------------------

my $second = login($user, $pass);
is($second->{status}, 200, 'the agent logs in a second time');
my $out = req('POST', '/chat/api/v1/agent/logout', headers => bearer($token));
is($out->{status}, 204, 'logout answers 204');
my $clear = $out->{headers}{'set-cookie'} // '';
$clear = join("\n", @$clear) if ref $clear;
like($clear, qr/chat_agent=;|chat_agent=[^;]*;.*Max-Age=0/, 'and expires the chat_agent cookie');
for my $i (1 .. 4) {
    is(req('GET', '/chat/api/v1/agent/me', headers => bearer($token))->{status}, 401,
       "the old token is 401 after logout (try $i)");
}
is(req('GET', '/chat/api/v1/agent/me', headers => { Cookie => "chat_agent=$token" })->{status}, 401,
   'also as a cookie');
is(req('GET', '/chat/api/v1/agent/me', headers => bearer($second->{json}{token}))->{status}, 401,
   'logout revokes every earlier token, not only the one used');
is(req('POST', '/chat/api/v1/agent/logout', headers => bearer($token))->{status}, 401,
   'logging out with a revoked token is 401');
my $again = login($user, $pass);
is($again->{status}, 200, 'the agent can log in again after logout');
is(req('GET', '/chat/api/v1/agent/me', headers => bearer($again->{json}{token}))->{status}, 200,
   'and the new token works');

# --- 429 after 10 failures per username and address ---------------------------------

my @fails = map { login($other, "wrong-password-$_") } 1 .. 10;
is(scalar(grep { $_->{status} == 401 } @fails), 10, '10 failed logins for one username are each 401');
my $limited = login($other, 'wrong-password-11');
is($limited->{status}, 429, 'the 11th attempt is 429');
is($limited->{json}{error}{code}, 'rate_limited', 'with code rate_limited');
like($limited->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, 'and a positive Retry-After');
ok(($limited->{headers}{'retry-after'} // 0) <= 300, 'of at most the 5-minute window');
my $limited_ok = login($other, $opass);
is($limited_ok->{status}, 429, 'while limited even the right password is 429');
ok(!$limited_ok->{json}{token}, 'and gives no token');
my $free = login($user, $pass);
is($free->{status}, 200, 'another username from the same address still logs in');

# --- the password never appears ---------------------------------------------------

my @leaks;
for my $r (@seen) {
    my $text = ($r->{body} // '') . join(' ', map { ref $_ ? "@$_" : $_ } values %{ $r->{headers} });
    for my $p ($pass, $opass, 'Admin@123') {
        push @leaks, "$p in a $r->{status} answer" if index($text, $p) >= 0;
    }
    push @leaks, "a password hash in a $r->{status} answer" if $text =~ /password_hash|\$scrypt\$|\$argon2|\$pbkdf2/;
}
is_deeply(\@leaks, [], 'no answer of this file contains a password or its hash')
    or diag(join "\n", @leaks);
ok(scalar(@seen) > 40, 'across all ' . scalar(@seen) . ' answers');

$ng->stop;
done_testing;
