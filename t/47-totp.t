# Agent second factor (API.md "Agent second factor (TOTP, RFC 6238)"): setup gives a
# base32 secret and its otpauth:// URL, enable takes a code of the step before, now or
# after and nothing further, login then answers totp_required without a code and 401 with
# a wrong one, a code is used once, failures (at login, enable and disable alike) count
# toward chat_login_limit, disable takes a code, chatctl agent totp-reset turns it off for
# a lost phone, and the database holds the secret only encrypted.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use Digest::SHA qw(hmac_sha1 hmac_sha256);
use MIME::Base64 qw(decode_base64url encode_base64url);
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(floor);
use Time::HiRes qw(time sleep);

my $chatctl = ChatTest::repo_root() . '/build/core/chatctl';
die "chatctl is not built: $chatctl (make core)\n" unless -x $chatctl;

# Source addresses of this file's own (all of 127.0.0.0/8 is loopback): the per-address
# login counts start from nothing whatever ran before.
my $MAIN  = '127.0.0.46';
my $LIMIT = '127.0.0.47';
my $THIRD = '127.0.0.48';
ChatTest::sql("DELETE FROM login_failures WHERE address IN ('$MAIN', '$LIMIT', '$THIRD')");

# chat_rate is raised here: one agent's token makes ~40 calls in a few seconds below, and
# the default bucket (burst=30) made a right code's 200 a 429 now and then; chat_rate on
# enable and disable has its own nginx at the end.
my $ng = ChatTest::start_nginx(workers => 3,
    http => "    chat_login_limit failures=6 address=40 window=5m;\n    chat_rate 50r/s burst=500;");

my $run  = sprintf('%d%d', $$, int(time * 1000) % 100000);
my $JSON = JSON::PP->new->utf8->canonical;

# request from a source address of our choice: {status, headers, json, body}
sub req {
    my ($from, $method, $path, %o) = @_;
    my $http = HTTP::Tiny->new(timeout => 20, keep_alive => 0, local_address => $from);
    my %h = %{ $o{headers} // {} };
    my $body;
    if (exists $o{json}) {
        $body = $JSON->encode($o{json});
        $h{'content-type'} = 'application/json';
    }
    my $res = $http->request($method, $ng->url($path), { headers => \%h, (defined $body ? (content => $body) : ()) });
    my $json = eval { $JSON->decode($res->{content}) };
    return { status => $res->{status}, headers => $res->{headers}, json => $json, body => $res->{content} };
}
sub bearer { { Authorization => "Bearer $_[0]" } }
sub login {
    my ($from, $user, $pass, $code) = @_;
    return req($from, 'POST', '/chat/api/v1/agent/login',
               json => { username => $user, password => $pass, (defined $code ? (code => $code) : ()) });
}

# --- RFC 6238 in Perl: what an authenticator app computes ---------------------------

sub base32_decode {
    my ($s) = @_;
    my $bits = join '', map { sprintf '%05b', index('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', $_) } split //, $s;
    $bits = substr($bits, 0, length($bits) - length($bits) % 8);
    return pack 'B*', $bits;
}

sub code_at {
    my ($secret, $step) = @_;
    my $mac = hmac_sha1(pack('NN', int($step / 2**32), $step % 2**32), $secret);
    my $off = ord(substr($mac, 19, 1)) & 15;
    my $bin = unpack('N', substr($mac, $off, 4)) & 0x7fffffff;
    return sprintf '%06d', $bin % 1_000_000;
}

# The current step, waiting first when fewer than 12 s of it are left, so a group of
# requests that names steps relative to now never straddles a step boundary.
sub fresh_step {
    my $left = 30 - (time - 30 * floor(time / 30));
    sleep($left + 0.3) if $left < 12;
    return floor(time / 30);
}

# a code of a step that is none of (step-1, step, step+1)'s codes
sub wrong_code {
    my ($secret, $step) = @_;
    my %taken = map { (code_at($secret, $step + $_) => 1) } -1 .. 1;
    for my $n (0 .. 20) {
        my $c = sprintf '%06d', (123456 + $n * 7919) % 1_000_000;
        return $c unless $taken{$c};
    }
}

# --- the agent of this file ------------------------------------------------------------

my $admin = login($MAIN, 'admin', 'Admin@123');
is($admin->{status}, 200, 'the seeded admin can log in') or diag($admin->{body});
my $user = "t47.agent.$run";
my $pass = "T47-Secret-$run!";
my $c = req($MAIN, 'POST', '/chat/api/v1/admin/agents', headers => bearer($admin->{json}{token}),
            json => { username => $user, password => $pass, display_name => 'T47 Agent', role => 'agent',
                      max_active_chats => 2 });
is($c->{status}, 201, 'the admin creates the agent') or diag($c->{body});
is($c->{json}{agent}{totp_enabled}, JSON::PP::false, 'a new Agent has totp_enabled false');

my $first = login($MAIN, $user, $pass);
is($first->{status}, 200, 'without TOTP the password alone logs in');
my $token = $first->{json}{token};
my $auth  = bearer($token);
is($first->{json}{agent}{totp_enabled}, JSON::PP::false, 'the login answer says totp_enabled false');

# --- setup ---------------------------------------------------------------------------

my $setup = req($MAIN, 'POST', '/chat/api/v1/agent/totp/setup', headers => $auth);
is($setup->{status}, 200, 'POST /agent/totp/setup answers 200') or diag($setup->{body});
my $b32 = $setup->{json}{secret} // '';
like($b32, qr/^[A-Z2-7]{32}$/, 'the secret is 160 bits of base32 (32 characters, no padding)');
(my $user_enc = $user) =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord $1)/ge;
is($setup->{json}{otpauth_url},
   "otpauth://totp/nginx-chat:$user_enc?secret=$b32&issuer=nginx-chat&period=30&digits=6&algorithm=SHA1",
   'the otpauth_url names issuer, account, secret, period, digits and algorithm');
my $secret = base32_decode($b32);

my $stored = ChatTest::sql("SELECT coalesce(totp_secret, '') FROM agents WHERE username = '$user'");
like($stored, qr/^v1\.[A-Za-z0-9_-]+$/, 'the database holds a box (v1. + base64url)');
unlike($stored, qr/\Q$b32\E/i, 'the stored value does not contain the base32 secret');
my $hex = unpack 'H*', $secret;
unlike($stored, qr/$hex/i, 'nor the secret in hex');
is(ChatTest::sql("SELECT totp_enabled FROM agents WHERE username = '$user'"), 'f', 'setup alone does not enable it');

my $again = login($MAIN, $user, $pass);
is($again->{status}, 200, 'a secret set up but not enabled does not ask for a code');

my $setup2 = req($MAIN, 'POST', '/chat/api/v1/agent/totp/setup', headers => $auth);
is($setup2->{status}, 200, 'setup again before enabling replaces the secret');
isnt($setup2->{json}{secret}, $b32, 'with a new one');
$b32 = $setup2->{json}{secret};
$secret = base32_decode($b32);

my $cookie_only = req($MAIN, 'POST', '/chat/api/v1/agent/totp/setup', headers => { Cookie => "chat_agent=$token" });
is($cookie_only->{status}, 403, 'a cookie-authenticated setup without X-Chat-Csrf is 403');
my $anon = req($MAIN, 'POST', '/chat/api/v1/agent/totp/setup');
is($anon->{status}, 401, 'setup without a token is 401');

# --- a token of an older login: setup and enable need a login of the last 15 minutes -----

# the same claims with the login (and so the expiry) `min` minutes earlier, signed with the
# dev secret as nginx signs them
sub aged {
    my ($tok, $min) = @_;
    open my $fh, '<', ChatTest::var_dir() . '/chat.secret' or die "chat.secret: $!";
    my $key = do { local $/; <$fh> };
    $key =~ s/[\r\n]+\z//;
    my ($body) = split /\./, $tok;
    my $claims = decode_base64url($body);
    $claims =~ s/\|(\d+)\z/'|' . ($1 - $min * 60_000)/e or die "no expiry in $claims";
    my $b = encode_base64url($claims);
    return $b . '.' . encode_base64url(hmac_sha256($b, $key));
}
my $box_before = ChatTest::sql("SELECT totp_secret FROM agents WHERE username = '$user'");
my $old = bearer(aged($token, 20));
is(req($MAIN, 'GET', '/chat/api/v1/agent/me', headers => $old)->{status}, 200,
   'a token of a login 20 minutes ago is valid for the rest of the API');
my $r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/setup', headers => $old);
is($r->{status}, 403, 'setup with it is 403');
is($r->{json}{error}{code}, 'reauth_required', '... reauth_required');
is(ChatTest::sql("SELECT totp_secret FROM agents WHERE username = '$user'"), $box_before,
   '... and the secret set up with the fresh token stays');
my $fresh_step = fresh_step();
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/enable', headers => $old,
         json => { code => code_at($secret, $fresh_step) });
is($r->{status}, 403, 'enable with it and a right code is 403');
is($r->{json}{error}{code}, 'reauth_required', '... reauth_required');
is(ChatTest::sql("SELECT totp_enabled FROM agents WHERE username = '$user'"), 'f', '... and TOTP stays off');
is(ChatTest::sql("SELECT count(*) FROM login_failures WHERE address = '$MAIN'"), 0,
   '... counting no failed login');
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/setup', headers => bearer(aged($token, 10)));
is($r->{status}, 200, 'setup with a token of a login 10 minutes ago answers 200') or diag($r->{body});
$b32 = $r->{json}{secret};
$secret = base32_decode($b32);

# --- enable ----------------------------------------------------------------------------

for my $bad ('12345', '1234567', 'abcdef', '12 456') {
    my $r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/enable', headers => $auth, json => { code => $bad });
    is($r->{status}, 422, "enable with the malformed code '$bad' is 422");
    is($r->{json}{error}{code}, 'validation', '... validation');
}
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/enable', headers => $auth, json => { code => 123456 });
is($r->{status}, 400, 'a code that is not a string is 400');
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/enable', headers => $auth, json => {});
is($r->{status}, 400, 'enable without a code is 400');

my $step = fresh_step();
for my $d (-2, 2) {
    $r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/enable', headers => $auth,
             json => { code => code_at($secret, $step + $d) });
    is($r->{status}, 403, "enable with the code of step $d is refused (403)");
}
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/enable', headers => $auth,
         json => { code => wrong_code($secret, $step) });
is($r->{status}, 403, 'enable with a wrong code is 403');
is($r->{json}{error}{code}, 'forbidden', '... forbidden');
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/enable', headers => $auth,
         json => { code => code_at($secret, $step - 1) });
is($r->{status}, 200, 'enable with the code of the step before now answers 200') or diag($r->{body});
is($r->{json}{agent}{totp_enabled}, JSON::PP::true, 'the Agent says totp_enabled true');
is($r->{json}{agent}{username}, $user, '... of the agent');

is(ChatTest::sql("SELECT count(*) FROM login_failures WHERE username = lower('$user') AND address = '$MAIN'"), 3,
   "the three wrong codes counted as failed logins of the agent's username (the right one and the malformed ones did not)");
ChatTest::sql("DELETE FROM login_failures WHERE address = '$MAIN'");

my $me = req($MAIN, 'GET', '/chat/api/v1/agent/me', headers => $auth);
is($me->{status}, 200, 'the token of before stays valid');
is($me->{json}{agent}{totp_enabled}, JSON::PP::true, 'GET /agent/me says totp_enabled true');

$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/enable', headers => $auth, json => { code => code_at($secret, $step) });
is($r->{status}, 409, 'enable while enabled is 409');
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/setup', headers => $auth);
is($r->{status}, 409, 'setup while enabled is 409 (disable first)');
is($r->{json}{error}{code}, 'invalid_state', '... invalid_state');

# --- login with TOTP ---------------------------------------------------------------------

$step = fresh_step();
my $nocode = login($MAIN, $user, $pass);
is($nocode->{status}, 401, 'login without a code is 401');
is($nocode->{json}{error}{code}, 'totp_required', '... totp_required');
ok(!$nocode->{json}{token}, '... with no token');
ok(!grep({ /chat_agent=[^;\s]/ } ref $nocode->{headers}{'set-cookie'} ? @{ $nocode->{headers}{'set-cookie'} }
                                                                    : ($nocode->{headers}{'set-cookie'} // '')),
   '... and no cookie');

my $wrongpw = login($MAIN, $user, "$pass-no");
is($wrongpw->{json}{error}{code}, 'unauthorized', 'a wrong password with no code is plain unauthorized (no oracle)');

my $wrong = login($MAIN, $user, $pass, wrong_code($secret, $step));
is($wrong->{status}, 401, 'login with a wrong code is 401');
is($wrong->{json}{error}{code}, 'unauthorized', '... unauthorized');

$r = login($MAIN, $user, $pass, '12345');
is($r->{status}, 422, 'login with a malformed code is 422');

my $now = login($MAIN, $user, $pass, code_at($secret, $step));
is($now->{status}, 200, "login with the password and now's code answers 200") or diag($now->{body});
ok($now->{json}{token}, '... with a token');
is($now->{json}{agent}{totp_enabled}, JSON::PP::true, '... and the Agent with totp_enabled true');

my $replay = login($MAIN, $user, $pass, code_at($secret, $step));
is($replay->{status}, 401, 'the same code again is refused (a code is used once)');
is($replay->{json}{error}{code}, 'unauthorized', '... unauthorized');

my $plus1 = login($MAIN, $user, $pass, code_at($secret, $step + 1));
is($plus1->{status}, 200, 'the code of the step after now is accepted');

# each step is accepted once and only later steps after it: forget the last used step
# to try the steps before now
ChatTest::sql("UPDATE agents SET totp_last_step = NULL WHERE username = '$user'");
$step = fresh_step();
for my $d (-2, 2) {
    my $x = login($MAIN, $user, $pass, code_at($secret, $step + $d));
    is($x->{status}, 401, "the code of step $d is refused");
}
my $minus1 = login($MAIN, $user, $pass, code_at($secret, $step - 1));
is($minus1->{status}, 200, 'the code of the step before now is accepted') or diag($minus1->{body});
my $older = login($MAIN, $user, $pass, code_at($secret, $step - 1));
is($older->{status}, 401, 'and not twice');
ok(ChatTest::sql("SELECT totp_last_step FROM agents WHERE username = '$user'") == $step - 1,
   'the step of the last accepted code is stored');

# --- failures count toward chat_login_limit (failures=6 per username and address) -----

$step = fresh_step();
my @fails;
push @fails, login($LIMIT, $user, $pass) for 1 .. 3;                          # totp_required
push @fails, login($LIMIT, $user, $pass, wrong_code($secret, $step)) for 1 .. 3;  # wrong code
is_deeply([map { $_->{status} } @fails], [(401) x 6], 'six failed second factors are each 401');
is_deeply([map { $_->{json}{error}{code} } @fails], [('totp_required') x 3, ('unauthorized') x 3],
          '... totp_required without a code, unauthorized with a wrong one');
my $limited = login($LIMIT, $user, $pass, code_at($secret, $step + 1));
is($limited->{status}, 429, 'then even the right password and code are 429: they counted as failures');
ok(($limited->{headers}{'retry-after'} // 0) >= 1, '... with Retry-After');
my $elsewhere = login($MAIN, $user, $pass, code_at($secret, $step + 1));
is($elsewhere->{status}, 200, 'while from another address the agent logs in') or diag($elsewhere->{body});
ChatTest::sql("DELETE FROM login_failures WHERE address = '$LIMIT'");

# --- wrong codes on disable count toward the same limit ------------------------------------

my $etoken = bearer($elsewhere->{json}{token});
ChatTest::sql("UPDATE agents SET totp_last_step = NULL WHERE username = '$user'");
$step = fresh_step();
my @guess = map { req($LIMIT, 'POST', '/chat/api/v1/agent/totp/disable', headers => $etoken,
                      json => { code => wrong_code($secret, $step) }) } 1 .. 6;
is_deeply([map { $_->{status} } @guess], [(403) x 6], 'six wrong codes on disable are each 403');
my $locked = req($LIMIT, 'POST', '/chat/api/v1/agent/totp/disable', headers => $etoken,
                 json => { code => code_at($secret, $step) });
is($locked->{status}, 429, 'then disable with the right code is 429: they counted toward chat_login_limit');
is($locked->{json}{error}{code}, 'rate_limited', '... rate_limited');
like($locked->{json}{error}{message}, qr/too many failed logins/, "... the login's answer");
ok(($locked->{headers}{'retry-after'} // 0) >= 1, '... with Retry-After');
is(ChatTest::sql("SELECT totp_enabled FROM agents WHERE username = '$user'"), 't', '... and the code was not checked');
my $login_locked = login($LIMIT, $user, $pass, code_at($secret, $step));
is($login_locked->{status}, 429, 'the login of that username from that address is locked too');
like($login_locked->{json}{error}{message}, qr/too many failed logins/, '... with the same answer');
ChatTest::sql("DELETE FROM login_failures WHERE address = '$LIMIT'");

# a stolen token on many addresses: on enable and disable the username's failures count
# from every address
@guess = map { my $from = $_; map { req($from, 'POST', '/chat/api/v1/agent/totp/disable', headers => $etoken,
                                         json => { code => wrong_code($secret, $step) }) } 1 .. 3 } $MAIN, $THIRD;
is_deeply([map { $_->{status} } @guess], [(403) x 6], 'three wrong codes on disable from each of two addresses');
$locked = req($LIMIT, 'POST', '/chat/api/v1/agent/totp/disable', headers => $etoken,
              json => { code => code_at($secret, $step) });
is($locked->{status}, 429, 'then disable from a third address is 429 too');
like($locked->{json}{error}{message}, qr/too many failed logins/, "... the login's answer");
is(login($LIMIT, $user, $pass)->{json}{error}{code}, 'totp_required',
   '... while the login from there is not locked (it counts per address)');
ChatTest::sql("DELETE FROM login_failures WHERE username = lower('$user')");

# --- disable ------------------------------------------------------------------------------

$token = $elsewhere->{json}{token};
$auth  = bearer($token);
ChatTest::sql("UPDATE agents SET totp_last_step = NULL WHERE username = '$user'");
$step = fresh_step();
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/disable', headers => $auth, json => { code => 'nope' });
is($r->{status}, 422, 'disable with a malformed code is 422');
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/disable', headers => $auth,
         json => { code => wrong_code($secret, $step) });
is($r->{status}, 403, 'disable with a wrong code is 403');
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/disable', headers => { Cookie => "chat_agent=$token" },
         json => { code => code_at($secret, $step) });
is($r->{status}, 403, 'a cookie-authenticated disable without X-Chat-Csrf is 403');
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/disable', headers => { Cookie => "chat_agent=$token", 'X-Chat-Csrf' => '1' },
         json => { code => code_at($secret, $step) });
is($r->{status}, 200, 'disable with a fresh code answers 200') or diag($r->{body});
is($r->{json}{agent}{totp_enabled}, JSON::PP::false, '... and totp_enabled false');
is(ChatTest::sql("SELECT coalesce(totp_secret, 'none') FROM agents WHERE username = '$user'"), 'none',
   'the secret is forgotten');
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/disable', headers => $auth, json => { code => code_at($secret, $step) });
is($r->{status}, 409, 'disable while disabled is 409');
my $plain = login($MAIN, $user, $pass);
is($plain->{status}, 200, 'after disable the password alone logs in');

# --- chatctl agent totp-reset (a lost phone) -----------------------------------------------

$auth = bearer($plain->{json}{token});
$setup = req($MAIN, 'POST', '/chat/api/v1/agent/totp/setup', headers => $auth);
$secret = base32_decode($setup->{json}{secret});
$step = fresh_step();
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/enable', headers => $auth, json => { code => code_at($secret, $step) });
is($r->{status}, 200, 'enabled again');
is(login($MAIN, $user, $pass)->{json}{error}{code}, 'totp_required', 'so the password alone is not enough');

my $ci = 'host=127.0.0.1 port=' . ChatTest::pg_port() . ' dbname=chat user=chat password=chat';
my $out = `'$chatctl' --conninfo '$ci' agent totp-reset '$user' 2>&1`;
is($? >> 8, 0, 'chatctl agent totp-reset exits 0');
like($out, qr/\Q$user\E.*turned off/, 'and says what it did') or diag($out);
is(ChatTest::sql("SELECT totp_enabled::text || coalesce(totp_secret, 'none') FROM agents WHERE username = '$user'"),
   'falsenone', 'TOTP is off and the secret gone');
is(login($MAIN, $user, $pass)->{status}, 200, 'the agent logs in with the password alone');
$out = `'$chatctl' --conninfo '$ci' agent totp-reset '$user' 2>&1`;
is($? >> 8, 0, 'a second reset exits 0');
like($out, qr/had no two-factor/, '... saying there was nothing enabled');
$out = `'$chatctl' --conninfo '$ci' agent totp-reset 'no.such.agent.$run' 2>&1`;
is($? >> 8, 3, 'an unknown username exits 3');
like($out, qr/no active agent/, '... saying so');

# --- a box does not open for another agent's row ----------------------------------------

my $other = "t47.other.$run";
$c = req($MAIN, 'POST', '/chat/api/v1/admin/agents', headers => bearer($admin->{json}{token}),
         json => { username => $other, password => $pass, display_name => 'T47 Other', role => 'agent',
                   max_active_chats => 2 });
is($c->{status}, 201, 'a second agent');
$setup = req($MAIN, 'POST', '/chat/api/v1/agent/totp/setup', headers => $auth);
$secret = base32_decode($setup->{json}{secret});
ChatTest::sql("UPDATE agents SET totp_secret = (SELECT totp_secret FROM agents WHERE username = '$user'),"
              . " totp_enabled = true WHERE username = '$other'");
$step = fresh_step();
my $stolen = login($MAIN, $other, $pass, code_at($secret, $step));
is($stolen->{status}, 500, "a box copied to another agent's row does not open there (500, logged)");
like(join('', do { open my $fh, '<', $ng->dir . '/error.log' or die $!; <$fh> }),
     qr/TOTP secret does not open with this chat_secret/, 'error.log says why');
# --- wrong codes on enable count with failed logins, under one limit ----------------------

# ($auth is a token of $user's; their TOTP starts from nothing)
ChatTest::sql("UPDATE agents SET totp_enabled = false, totp_secret = NULL, totp_last_step = NULL WHERE username = '$user'");
$setup = req($MAIN, 'POST', '/chat/api/v1/agent/totp/setup', headers => $auth);
is($setup->{status}, 200, 'the agent sets up a secret again');
$secret = base32_decode($setup->{json}{secret});
$step = fresh_step();
my $r409 = req($LIMIT, 'POST', '/chat/api/v1/agent/totp/disable', headers => $auth,
               json => { code => code_at($secret, $step) });
is($r409->{status}, 409, 'a disable while disabled is 409 ...');
is(ChatTest::sql("SELECT count(*) FROM login_failures WHERE address = '$LIMIT'"), 0,
   '... and does not count (no code was checked)');
my @mixed = ((map { login($LIMIT, $user, "$pass-wrong") } 1 .. 3),
             (map { req($LIMIT, 'POST', '/chat/api/v1/agent/totp/enable', headers => $auth,
                        json => { code => wrong_code($secret, $step) }) } 1 .. 3));
is_deeply([map { $_->{status} } @mixed], [(401) x 3, (403) x 3],
          'three wrong passwords (401) and three wrong codes on enable (403) from one address');
is(ChatTest::sql("SELECT count(*) FROM login_failures WHERE address = '$LIMIT'"), 6, '... six failures counted');
$r = req($LIMIT, 'POST', '/chat/api/v1/agent/totp/enable', headers => $auth, json => { code => code_at($secret, $step) });
is($r->{status}, 429, 'then enable with the right code is 429');
ok(($r->{headers}{'retry-after'} // 0) >= 1, '... with Retry-After');
is(login($LIMIT, $user, $pass)->{status}, 429, '... as is the login with the right password');
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/enable', headers => $auth, json => { code => code_at($secret, $step) });
is($r->{status}, 429, '... and so is enable from another address (the username\'s failures count from anywhere there)');
is(login($MAIN, $user, $pass)->{status}, 200, '... while the login from that address is not locked');
ChatTest::sql("DELETE FROM login_failures WHERE address = '$LIMIT'");
$r = req($MAIN, 'POST', '/chat/api/v1/agent/totp/enable', headers => $auth, json => { code => code_at($secret, $step) });
is($r->{status}, 200, 'once they are gone enable with the right code answers 200') or diag($r->{body});
is(ChatTest::sql("SELECT count(*) FROM login_failures WHERE username = lower('$user')"), 0,
   '... and a right code does not count');

# --- code checks are rate limited: chat_rate per agent on enable and disable -------------

my $slow = ChatTest::start_nginx(workers => 1, http => 'chat_rate 1r/m burst=2;');
my $guesser = "t47.rate.$run";
$c = req($MAIN, 'POST', '/chat/api/v1/admin/agents', headers => bearer($admin->{json}{token}),
         json => { username => $guesser, password => $pass, display_name => 'T47 Guesser', role => 'agent',
                   max_active_chats => 2 });
is($c->{status}, 201, 'an agent who will guess codes');
my $gauth = bearer(login($MAIN, $guesser, $pass)->{json}{token});
my $slow_req = sub {
    my ($path, $json) = @_;
    my $res = HTTP::Tiny->new(timeout => 20)->request('POST', $slow->url($path),
        { headers => { %$gauth, 'content-type' => 'application/json' }, content => $JSON->encode($json // {}) });
    return { status => $res->{status}, headers => $res->{headers} };
};
is($slow_req->('/chat/api/v1/agent/totp/setup')->{status}, 200, 'with chat_rate 1r/m burst=2: setup');
my @guesses = map { $slow_req->('/chat/api/v1/agent/totp/enable', { code => sprintf('%06d', 111111 * $_) }) } 1 .. 3;
is($guesses[0]{status}, 403, '... a wrong code: 403');
is($guesses[1]{status}, 403, '... a second wrong code: 403');
is($guesses[2]{status}, 429, '... the third guess at once: 429, the code is not even checked');
ok($guesses[2]{headers}{'retry-after'}, '... with Retry-After');
$slow->stop;
ChatTest::sql("UPDATE agents SET deleted_at = now() WHERE username = '$guesser'");

ChatTest::sql("UPDATE agents SET deleted_at = now() WHERE username IN ('$user', '$other')");
ChatTest::sql("DELETE FROM login_failures WHERE address IN ('$MAIN', '$LIMIT', '$THIRD')");

$ng->stop;

done_testing();
