# Session security (API.md "Customer endpoints", issue 9): a token in the URL
# authenticates only the WebSocket upgrades and never becomes a cookie; new
# sessions are limited per client address (chat_session_rate); colliding
# sessions never refill each other's rate bucket; the Secure cookie flag follows
# chat_cookie_secure; integers out of range are 422, never 500; and requests
# parked on Postgres survive a reload with worker_shutdown_timeout.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Compress::Zlib qw(crc32);
use Digest::SHA qw(hmac_sha256);
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64url);
use Test::More;
use Time::HiRes qw(sleep time);
use ChatTest;
use ChatWS;

my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', $$ * 10000 + ++$n) }
sub bearer { { Authorization => "Bearer $_[0]" } }
sub cookie_of {
    my ($r) = @_;
    my $c = $r->{headers}{'set-cookie'} // '';
    return ref $c ? join("\n", @$c) : $c;
}

# a session token for a chosen session id, signed with the dev secret as nginx does
sub mint_session {
    my ($sid) = @_;
    open my $fh, '<', ChatTest::var_dir() . '/chat.secret' or die "chat.secret: $!";
    my $key = do { local $/; <$fh> };
    $key =~ s/[\r\n]+\z//;
    my $body = encode_base64url('s|' . $sid . '|' . (int(time * 1000) + 3600 * 1000));
    return $body . '.' . encode_base64url(hmac_sha256($body, $key));
}
sub random_sid { join '', map { sprintf '%02x', int rand 256 } 1 .. 16 }


# --- 1. ?token= only on the WebSocket upgrades ----------------------------------

my $ng = ChatTest::start_nginx(workers => 2);

my $attacker = $ng->post('/chat/api/v1/session', json => {})->{json};
my $t = $attacker->{token};

# the cross-site form POST of the issue: text/plain, a foreign Origin, the token in the URL
my $fix = $ng->post("/chat/api/v1/session?token=$t", body => '',
                    headers => { 'Content-Type' => 'text/plain', Origin => 'http://evil.example' });
is($fix->{status}, 200, 'a cross-site POST /session?token=T answers 200');
isnt($fix->{json}{conversation}{id} // '', $attacker->{conversation}{id},
     "POST /session?token=T does not open T's conversation");
my ($set) = cookie_of($fix) =~ /chat_session=([^;\s]+)/;
ok(defined $set && $set ne $t, "the cookie it sets is not T");
my $victim = $ng->post('/chat/api/v1/session', json => {}, headers => { Cookie => "chat_session=$set" });
isnt($victim->{json}{conversation}{id}, $attacker->{conversation}{id},
     "and that cookie never reaches the attacker's conversation");

my %rest = (
    'GET /conversation' => [ 'GET',  '/chat/api/v1/conversation' ],
    'POST /messages'    => [ 'POST', '/chat/api/v1/messages', { text => 'hi', client_id => uuid() } ],
    'POST /escalate'    => [ 'POST', '/chat/api/v1/escalate', {} ],
    'POST /read'        => [ 'POST', '/chat/api/v1/read', { up_to_seq => 1 } ],
);
for my $name (sort keys %rest) {
    my ($m, $p, $body) = @{ $rest{$name} };
    my $r = $ng->request($m, "$p?token=$t", ($body ? (json => $body) : ()),
                         headers => { 'X-Chat-Csrf' => '1' });
    is($r->{status}, 401, "$name?token= is 401: REST ignores a URL token");
}
is($ng->get('/chat/api/v1/conversation', headers => bearer($t))->{status}, 200,
   'the same token in the Authorization header works');

my $ws = ChatWS->connect(port => $ng->port, path => "/chat/api/v1/ws?after=0&token=$t");
ok($ws, 'the customer WebSocket upgrade still takes ?token=');
$ws->close if $ws;

my $admin = $ng->post('/chat/api/v1/agent/login', json => { username => 'admin', password => 'Admin@123' });
is($admin->{status}, 200, 'the admin logs in');
my $at = $admin->{json}{token};
is($ng->get("/chat/api/v1/agent/me?token=$at")->{status}, 401, 'GET /agent/me?token= is 401');
is($ng->get('/chat/api/v1/agent/me', headers => bearer($at))->{status}, 200, 'with the header it is 200');
my $aws = ChatWS->connect(port => $ng->port, path => "/chat/api/v1/agent/ws?token=$at");
ok($aws, 'the agent WebSocket upgrade still takes ?token=');
$aws->close if $aws;


# --- 2. integers out of range: 422, never a 500 from Postgres ------------------

my $conv = $attacker->{conversation}{id};
for my $q ('after=2147483648', 'after=99999999999999999999', 'after=-1', 'limit=99999999999999999999',
           'limit=') {
    my $r = $ng->get("/chat/api/v1/conversation?$q", headers => bearer($t));
    is($r->{status}, 422, "GET /conversation?$q is 422");
    is($r->{json}{error}{code}, 'validation', '  with code validation');
    my $g = $ng->get("/chat/api/v1/agent/conversations/$conv?$q", headers => bearer($at));
    is($g->{status}, 422, "GET /agent/conversations/{id}?$q is 422");
}
for my $up (2147483648, '1e30', -1) {
    my $r = $ng->post('/chat/api/v1/read', body => qq({"up_to_seq": $up}),
                      headers => { %{ bearer($t) }, 'Content-Type' => 'application/json' });
    is($r->{status}, 422, "POST /read up_to_seq=$up is 422");
    my $g = $ng->post("/chat/api/v1/agent/conversations/$conv/read", body => qq({"up_to_seq": $up}),
                      headers => { %{ bearer($at) }, 'Content-Type' => 'application/json' });
    is($g->{status}, 422, "POST /agent/conversations/{id}/read up_to_seq=$up is 422");
}
for my $us ('-9223372036854775807', '9223372036854775807', '99999999999999999999') {
    my $cursor = encode_base64url("$us|00000000-0000-4000-8000-000000000001");
    my $r = $ng->get("/chat/api/v1/agent/conversations?view=all&cursor=$cursor", headers => bearer($at));
    is($r->{status}, 422, "a cursor at $us microseconds is 422");
}
is($ng->get('/chat/api/v1/agent/conversations?view=all&limit=99999999999999999999',
            headers => bearer($at))->{status}, 422, 'GET /agent/conversations?limit=huge is 422');
for my $field ([max_active_chats => '99999999999999999999'], [max_active_chats => '2147483648'],
               [max_active_chats => '1e30']) {
    my $r = $ng->post('/chat/api/v1/admin/agents',
                      body => qq({"username":"t14.x.$$","display_name":"X","password":"T14-Secret-pw!",
                                  "role":"agent","$field->[0]":$field->[1]}),
                      headers => { %{ bearer($at) }, 'Content-Type' => 'application/json' });
    is($r->{status}, 422, "POST /admin/agents $field->[0]=$field->[1] is 422");
}
for my $order ('99999999999999999999', '2147483648', '-2147483649') {
    my $r = $ng->post('/chat/api/v1/admin/faq',
                      body => qq({"slug":"t14-$$","question":"Q?","answer":"A.","display_order":$order}),
                      headers => { %{ bearer($at) }, 'Content-Type' => 'application/json' });
    is($r->{status}, 422, "POST /admin/faq display_order=$order is 422");
}
for my $after ('2147483648', '99999999999999999999') {
    my ($none, $st) = ChatWS->connect(port => $ng->port, path => "/chat/api/v1/ws?after=$after&token=$t");
    is($st, 422, "the customer WebSocket with after=$after is refused with 422");
}
$ng->stop;


# --- 3. chat_session_rate: new sessions per client address ---------------------

# the module's default (30r/m burst=60); behind a trusted proxy the client is X-Real-IP
my $lim = ChatTest::start_nginx(workers => 2, session_rate => 'default',
                                server => 'set_real_ip_from 127.0.0.1; real_ip_header X-Real-IP;');
my $kept = $lim->post('/chat/api/v1/session', json => {}, headers => { 'X-Real-IP' => '192.0.2.1' })->{json};

my ($passed, $limited) = (0, undef);
for (1 .. 200) {
    my $r = $lim->post('/chat/api/v1/session', json => {});
    if ($r->{status} == 429) { $limited = $r; last }
    $passed++ if $r->{status} == 200;
}
cmp_ok($passed, '>=', 60, "the default burst lets $passed new sessions from one address through");
ok($limited, 'then POST /session is 429');
is($limited && $limited->{json}{error}{code}, 'rate_limited', 'with code rate_limited');
like($limited && $limited->{headers}{'retry-after'} // '', qr/^[1-9]\d*$/, 'and a Retry-After in seconds');
ok(!($limited && cookie_of($limited)), 'and no cookie');
is($lim->post('/chat/api/v1/session', json => {}, headers => { 'X-Real-IP' => '192.0.2.2' })->{status}, 200,
   'another client address still gets a session');
my $again = $lim->post('/chat/api/v1/session', json => {}, headers => bearer($kept->{token}));
is($again->{status}, 200, 'a valid token restores its session while its address is limited');
is($again->{json}{conversation}{id}, $kept->{conversation}{id}, '  the same conversation');
my $forged = $lim->post('/chat/api/v1/session', json => {}, headers => bearer("$kept->{token}x"));
is($forged->{status}, 429, 'a forged token counts as a new session');

# --- 4. the Secure flag: chat_cookie_secure auto trusts only set_real_ip_from peers

my $trusted = $lim->post('/chat/api/v1/session', json => {},
                         headers => { 'X-Real-IP' => '198.51.100.1', 'X-Forwarded-Proto' => 'https' });
like(cookie_of($trusted), qr/chat_session=[^;]+;.*\bSecure\b/,
     'auto: X-Forwarded-Proto https from a trusted proxy makes the cookie Secure');
my $plainp = $lim->post('/chat/api/v1/session', json => {},
                        headers => { 'X-Real-IP' => '198.51.100.2', 'X-Forwarded-Proto' => 'http' });
unlike(cookie_of($plainp), qr/Secure/, 'auto: X-Forwarded-Proto http does not');
$lim->stop;

my $untrusted = ChatTest::start_nginx(workers => 1);
my $u = $untrusted->post('/chat/api/v1/session', json => {}, headers => { 'X-Forwarded-Proto' => 'https' });
like(cookie_of($u), qr/chat_session=/, 'a session cookie is set');
unlike(cookie_of($u), qr/Secure/, 'auto: X-Forwarded-Proto from an untrusted peer is ignored');
$untrusted->stop;

my $on = ChatTest::start_nginx(workers => 1, http => 'chat_cookie_secure on;',
                               server => 'chat_session_rate 1r/m burst=2;');
like(cookie_of($on->post('/chat/api/v1/session', json => {})), qr/chat_session=[^;]+;.*\bSecure\b/,
     'on: the session cookie is Secure over plain http');
like(cookie_of($on->post('/chat/api/v1/agent/login', json => { username => 'admin', password => 'Admin@123' })),
     qr/chat_agent=[^;]+;.*\bSecure\b/, 'on: so is the agent cookie');
# chat_session_rate in the server context overrides http's
is($on->post('/chat/api/v1/session', json => {})->{status}, 200, 'a server-level burst of 2: the second passes');
is($on->post('/chat/api/v1/session', json => {})->{status}, 429, 'the third is 429');
$on->stop;

my $off = ChatTest::start_nginx(workers => 1,
                                server => 'set_real_ip_from 127.0.0.1; real_ip_header X-Real-IP; chat_cookie_secure off;');
unlike(cookie_of($off->post('/chat/api/v1/session', json => {},
                            headers => { 'X-Real-IP' => '198.51.100.3', 'X-Forwarded-Proto' => 'https' })),
       qr/Secure/, 'off: never Secure');
$off->stop;


# --- 5. sessions sharing a rate-limit slot never refill each other's bucket ----

my $rl = ChatTest::start_nginx(workers => 2, http => 'chat_rate 1r/m burst=3;');

# session ids whose crc32 falls on one slot of the 4096 (and so in one set of any
# power-of-two set-associative table): a collision on purpose
my $sa = random_sid();
my $slot = crc32($sa) % 4096;
my @coll;
while (@coll < 4) {
    my $sid = random_sid();
    push @coll, $sid if crc32($sid) % 4096 == $slot && $sid ne $sa;
}
sub open_minted {
    my ($sid) = @_;
    my $tok = mint_session($sid);
    my $r = $rl->post('/chat/api/v1/session', json => {}, headers => bearer($tok));
    die "session: $r->{status}" unless $r->{status} == 200;
    return bearer($tok);
}
sub say_hi { $rl->post('/chat/api/v1/messages', headers => $_[0], json => { text => 'hi', client_id => uuid() })->{status} }

my $A = open_minted($sa);
is_deeply([ map { say_hi($A) } 1 .. 4 ], [201, 201, 201, 429], 'session A: a burst of 3, then 429');
my $B = open_minted($coll[0]);
is(say_hi($B), 201, 'session B, on the same slot, writes');
is(say_hi($A), 429, 'and A is still limited: B did not reset its bucket');
my @others = map { open_minted($_) } @coll[1 .. 3];
say_hi($_) for @others;
is(say_hi($A), 429, 'A is still limited after three more sessions on its slot wrote');

# a valid token restoring its session is never limited, but the context it brings is a write
# (an UPDATE of its conversation): it takes from the session's chat_rate, and past it the
# session is restored without writing it (was: a new page_url on every restore, unlimited)
my $C = open_minted(random_sid());
my @ctx = map { $rl->post('/chat/api/v1/session', headers => $C,
                          json => { context => { page_url => "http://shop.test/p/$_" } }) } 1 .. 5;
is_deeply([ map { $_->{status} } @ctx ], [ (200) x 5 ], 'five restores with a new context each: 200 each time');
is_deeply([ map { $_->{json}{conversation}{context}{page_url} } @ctx ],
          [ map { 'http://shop.test/p/' . $_ } 1, 2, 3, 3, 3 ],
          'the first three (burst 3) write their context, the next two write nothing');
is(say_hi($C), 429, 'they took from the bucket of its messages');
$rl->stop;


# --- 6. parked requests and worker_shutdown_timeout ------------------------------

my $sd = ChatTest::start_nginx(workers => 1, pool => 4, main => 'worker_shutdown_timeout 1s;');
my $s = $sd->post('/chat/api/v1/session', json => {})->{json};
my ($old) = $sd->worker_pids;

# a transaction of ours holds the lock every message write waits for
$ENV{PGPASSWORD} = 'chat';
open(my $lock, '|-', 'psql', '-X', '-q', '-h', '127.0.0.1', '-p', ChatTest::pg_port(),
     '-U', 'chat', '-d', 'chat') or die "psql: $!";
select((select($lock), $| = 1)[0]);
print $lock "BEGIN;\nLOCK TABLE messages IN ACCESS EXCLUSIVE MODE;\n";
ok(wait_until(sub {
    ChatTest::sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                  . "WHERE c.relname = 'messages' AND l.mode = 'AccessExclusiveLock' AND l.granted") > 0 }, 10),
   'a test transaction holds the messages table');

my @clients;
for my $i (1 .. 3) {
    my $body = qq({"text":"parked $i","client_id":"@{[uuid()]}"});
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $sd->port, Proto => 'tcp')
        or die "connect: $!";
    print $c "POST /chat/api/v1/messages HTTP/1.1\r\nHost: localhost\r\n"
           . "Authorization: Bearer $s->{token}\r\nContent-Type: application/json\r\n"
           . "Content-Length: " . length($body) . "\r\n\r\n$body";
    push @clients, $c;
}
ok(wait_until(sub {
    ChatTest::sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                  . "AND query LIKE '%chat_customer_post%'") >= 3 }, 10),
   'three message writes are parked, waiting for the lock');

ok(eval { $sd->reload }, 'a reload starts a new worker') or diag($@);
ok(wait_until(sub { !kill 0, $old }, 20),
   'the old worker exits once worker_shutdown_timeout closes its parked requests');

print $lock "ROLLBACK;\n";
close $lock;
ok(wait_until(sub {
    ChatTest::sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                  . "AND query LIKE '%chat_customer_post%'") == 0 }, 10),
   'the lock is released and the waiting writes ran');
close $_ for @clients;

my $after = $sd->post('/chat/api/v1/messages', headers => bearer($s->{token}),
                      json => { text => 'after the reload', client_id => uuid() });
is($after->{status}, 201, 'the new worker writes');
my @seq = map { $_->{seq} } @{ $sd->get('/chat/api/v1/conversation?after=0&limit=200',
                                        headers => bearer($s->{token}))->{json}{messages} };
is_deeply(\@seq, [ 1 .. scalar @seq ], 'and the history has no gap');
$sd->stop;

done_testing;
