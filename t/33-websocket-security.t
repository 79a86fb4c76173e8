# WebSockets facing the internet (API.md "Customer endpoints" on ?token=/Origin/frames
# before auth, "Events"): sockets are refused from foreign origins, act on no frame before
# their token is verified, are rate limited, hear only what their owner may GET, are
# closed when their agent's standing changes, never outlive their callbacks, close even
# when the peer stops reading, and resume after the no-Redis ring dropped events.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);
use ChatTest;
use ChatWS;

my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', $$ * 10000 + ++$n) }

sub session {
    my ($ng, %ctx) = @_;
    my $s = $ng->post('/chat/api/v1/session', json => { context => \%ctx })->{json};
    return ($s->{token}, { Authorization => "Bearer $s->{token}" }, $s);
}

# every event until the socket is closed or $timeout passes quietly; returns the close code
sub close_code {
    my ($ws, $timeout) = @_;
    1 while defined $ws->next_message($timeout // 10);
    return $ws->{closed} // 'open';
}

# --- a callback of a closed socket never reaches a later socket --------------------------
#
# One worker, one Postgres connection: the replay of socket 1 waits on a lock; socket 1
# goes away, socket 2 (another customer) arrives in its place. When the lock is released,
# socket 1's replay must not be delivered to socket 2, even if nginx reuses the request's
# memory for socket 2.
{
    my $ng = start_nginx(workers => 1, pool => 1, name => 'ws-sec-replay');
    my ($t1, $h1) = session($ng);
    my ($t2, $h2) = session($ng);
    $ng->post('/chat/api/v1/messages', headers => $h1, json => { text => 'secret of customer one', client_id => uuid() });

    local $ENV{PGPASSWORD} = 'chat';
    my $port = $ENV{CHAT_PG_PORT} || 55432;
    open(my $lock, '|-', "psql -X -q -h 127.0.0.1 -p $port -U chat -d chat >/dev/null 2>&1") or die "psql: $!";
    $lock->autoflush(1);
    print $lock "BEGIN; LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);\n";
    ok(wait_until(sub { ChatTest::sql("SELECT count(*) FROM pg_locks WHERE relation = 'conversations'::regclass"
                                      . " AND mode = 'AccessExclusiveLock' AND granted") >= 1 }, 10),
       'a test transaction holds the conversations table');

    for my $round (1 .. 5) {
        my $ws1 = ChatWS->connect(port => $ng->port, path => "/chat/api/v1/ws?after=0&token=$t1");
        sleep 0.2;    # its replay is queued behind the lock
        $ws1->close;
        sleep 0.2;    # the worker saw it go
    }
    my $ws2 = ChatWS->connect(port => $ng->port, path => "/chat/api/v1/ws?after=0&token=$t2");
    ok($ws2, "customer two's socket opens while the replays wait");

    # end the lock: cancel the sleeping backend, the transaction rolls back
    ChatTest::sql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%'"
                  . " AND pid <> pg_backend_pid()");
    close $lock;

    my @ev = $ws2->drain(2);
    my @foreign = grep { ($_->{data}{content} // '') eq 'secret of customer one' } @ev;
    is(scalar(@foreign), 0, "customer two never receives customer one's messages");
    ok((grep { $_->{type} eq 'message.created' && $_->{seq} == 1 } @ev), 'but its own history');
    $ws2->close;
    is($ng->get('/chat/api/v1/health')->{status}, 200, 'and the worker lives on');
    $ng->stop;
}

# --- one nginx pair (through Redis) for the rest ------------------------------------------

my $ng = start_nginx(workers => 2, name => 'ws-sec',
                     http => 'chat_allowed_origins https://Shop.Example.com http://other.example:8443;');
my $port = $ng->port;

my $admin = $ng->post('/chat/api/v1/agent/login', json => { username => 'admin', password => 'Admin@123' })->{json};
my $adm = { Authorization => "Bearer $admin->{token}" };
my $pw = 'SocketTest12345!';
sub agent {
    my ($name, $role) = @_;
    my $user = "$name$$";
    my $mk = $ng->post('/chat/api/v1/admin/agents', headers => $adm,
                       json => { username => $user, display_name => "\u$name", password => $pw,
                                 role => $role, max_active_chats => 50 });
    die "creating $user: $mk->{status}" unless $mk->{status} == 201;
    my $in = $ng->post('/chat/api/v1/agent/login', json => { username => $user, password => $pw })->{json};
    return { id => $mk->{json}{agent}{id}, token => $in->{token},
             auth => { Authorization => "Bearer $in->{token}" } };
}
sub agent_ws {
    my ($ag) = @_;
    my $ws = ChatWS->connect(port => $port, path => "/chat/api/v1/agent/ws?token=$ag->{token}");
    $ws->send_json({ type => 'ping' });       # answered once the token is verified
    # events the socket may hear first (another agent's presence) come before the pong
    my $deadline = time + 10;
    while (time < $deadline) {
        my $e = $ws->next_event($deadline - time) // last;
        return $ws if ($e->{type} // '') eq 'pong';
    }
    die 'agent socket did not answer';
}
sub of_conv { my ($cid, @ev) = @_; grep { ($_->{conversation_id} // '') eq $cid } @ev }

# nobody is online: escalations stay in the queue
ChatTest::sql("UPDATE agents SET presence = 'offline' WHERE presence <> 'offline'");

# --- Origin -----------------------------------------------------------------------------

{
    my ($tok) = session($ng);
    my ($none, $st, $head, $body) = ChatWS->connect(port => $port, path => "/chat/api/v1/ws?token=$tok",
                                                    headers => { Origin => 'http://evil.example' });
    is($st, 403, 'an upgrade from a foreign Origin is refused with 403');
    my $err = eval { JSON::PP->new->decode($body // '') } || {};
    is($err->{error}{code}, 'forbidden', '  with the API error shape, code forbidden');
    my ($n2, $st2) = ChatWS->connect(port => $port, path => '/chat/api/v1/agent/ws?token=x',
                                     headers => { Origin => 'http://evil.example' });
    is($st2, 403, 'the agent socket too');
    my ($n3, $st3) = ChatWS->connect(port => $port, path => "/chat/api/v1/ws?token=$tok",
                                     headers => { Origin => 'http://shop.example.com' });
    is($st3, 403, 'a listed host under another scheme is foreign');
    for my $o ("http://127.0.0.1:$port", 'https://shop.EXAMPLE.com', 'http://other.example:8443') {
        my $ws = ChatWS->connect(port => $port, path => "/chat/api/v1/ws?token=$tok", headers => { Origin => $o });
        ok($ws, "Origin $o may connect (own host or chat_allowed_origins)");
        $ws->close if $ws;
    }
    my $bare = ChatWS->connect(port => $port, path => "/chat/api/v1/ws?token=$tok", no_origin => 1);
    ok($bare, 'an upgrade without Origin (not a browser) may connect');
    $bare->close if $bare;
}

# --- the agents of the tests, and a customer waiting in the queue -------------------------

my $sup = agent('sue', 'supervisor');
my $ann = agent('ann', 'agent');
my $sws = agent_ws($sup);
my $aws = agent_ws($ann);

my ($ctok, $cauth) = session($ng);
my $cws = ChatWS->connect(port => $port, path => "/chat/api/v1/ws?after=0&token=$ctok");
$cws->drain(0.5);

# --- plain agents hear only what they may GET (no bot-only chats) ---------------------------

$ng->post('/chat/api/v1/messages', headers => $cauth, json => { text => 'a question for the bot', client_id => uuid() });
my $cid = $ng->get('/chat/api/v1/conversation', headers => $cauth)->{json}{conversation}{id};
my @sup_ev = of_conv($cid, $sws->drain(1.5));
my @ann_ev = of_conv($cid, $aws->drain(0.5));
ok(scalar(grep { $_->{type} eq 'message.created' } @sup_ev), 'a supervisor hears a chat still with the bot');
is(scalar(@ann_ev), 0, 'a plain agent hears nothing of a chat still with the bot');
is($ng->get("/chat/api/v1/agent/conversations/$cid", headers => $ann->{auth})->{status}, 404,
   '  (which they cannot GET either)');

$ng->post('/chat/api/v1/escalate', headers => $cauth, json => {});
@ann_ev = of_conv($cid, $aws->drain(1.5));
ok(scalar(grep { $_->{type} eq 'conversation.updated' && $_->{data}{status} eq 'agent' } @ann_ev),
   'once escalated, the queued chat reaches the plain agent');

is($ng->post("/chat/api/v1/agent/conversations/$cid/read", headers => $ann->{auth},
             json => { up_to_seq => 1 })->{status}, 403,
   'a plain agent may not mark a queued chat they do not have read (403)');

is($ng->post("/chat/api/v1/agent/conversations/$cid/claim", headers => $sup->{auth})->{status}, 200,
   'the supervisor takes the chat');
$aws->drain(1);
$sws->drain(0.5);
$ng->post('/chat/api/v1/messages', headers => $cauth, json => { text => 'for the supervisor only', client_id => uuid() });
ok(scalar(grep { $_->{type} eq 'message.created' } of_conv($cid, $sws->drain(1.5))), 'the supervisor hears their chat');
is(scalar(of_conv($cid, $aws->drain(0.5))), 0, "the plain agent does not hear someone else's chat");
is($ng->post("/chat/api/v1/agent/conversations/$cid/read", headers => $ann->{auth},
             json => { up_to_seq => 1 })->{status}, 404, "nor marks someone else's chat read (404, as for GET)");

# --- typing only into conversations the agent may write to --------------------------------

$cws->drain(0.5);
$aws->send_json({ type => 'typing', conversation_id => $cid, typing => JSON::PP::true });
$aws->send_json({ type => 'read', conversation_id => $cid, up_to_seq => 100 });
is(scalar(grep { $_->{type} eq 'typing' || $_->{type} eq 'read' } $cws->drain(1.5)), 0,
   "a plain agent's typing and read frames do not reach someone else's customer");
$sws->send_json({ type => 'typing', conversation_id => $cid, typing => JSON::PP::true });
my ($typing) = grep { $_->{type} eq 'typing' } $cws->drain(1.5);
ok($typing && $typing->{data}{sender_type} eq 'agent', "the assigned supervisor's typing does");

# --- no frame acts before the token is verified ---------------------------------------------

{
    my $early = JSON::PP->new->encode({ type => 'typing', conversation_id => $cid, typing => JSON::PP::true });
    my $forged = ChatWS->connect(port => $port, path => '/chat/api/v1/agent/ws?token=forged.token.value',
                                 early => [ ($early) x 3 ]);
    ok($forged, 'a socket with a forged agent token still gets its 101');
    is(close_code($forged, 5), 4401, 'and is closed with 4401 once the token fails');
    is(scalar(grep { $_->{type} eq 'typing' } $cws->drain(1)), 0,
       'the frames it sent before the check never reached anyone');
}

# --- client frames are rate limited -----------------------------------------------------------

{
    my $burst = ChatWS->connect(port => $port, path => "/chat/api/v1/ws?after=1000&token=$ctok");
    $burst->drain(0.5);
    $sws->drain(0.5);
    $burst->send_raw(join '', map { ChatWS::frame_bytes('{"type":"typing","typing":true}') } 1 .. 20);
    my @t = grep { $_->{type} eq 'typing' } of_conv($cid, $sws->drain(1.5));
    is(scalar(@t), 3, 'of 20 typing frames sent at once, 3 get through; the rest is dropped');
    $burst->send_raw(join '', map { ChatWS::frame_bytes('{"type":"ping"}') } 1 .. 200);
    is(close_code($burst, 5), 1008, 'a flood of frames closes the socket with 1008');
    is($ng->get('/chat/api/v1/health')->{status}, 200, 'and nginx still answers');
}

# --- a socket whose agent no longer stands is closed (4401) ----------------------------------

{
    my $lo = agent('lou', 'agent');
    my $ws = agent_ws($lo);
    is($ng->post('/chat/api/v1/agent/logout', headers => $lo->{auth})->{status}, 204, 'an agent logs out');
    is(close_code($ws, 10), 4401, '  their open socket is closed with 4401');

    my $pc = agent('pat', 'agent');
    $ws = agent_ws($pc);
    $ng->patch("/chat/api/v1/admin/agents/$pc->{id}", headers => $adm, json => { password => 'AnotherPass12345!' });
    is(close_code($ws, 10), 4401, "an admin changes an agent's password: the socket is closed with 4401");

    my $dl = agent('del', 'agent');
    $ws = agent_ws($dl);
    is($ng->delete("/chat/api/v1/admin/agents/$dl->{id}", headers => $adm)->{status}, 204, 'an agent is deleted');
    is(close_code($ws, 10), 4401, '  their socket is closed with 4401');

    my $dm = agent('dem', 'supervisor');
    $ws = agent_ws($dm);
    $ng->patch("/chat/api/v1/admin/agents/$dm->{id}", headers => $adm, json => { role => 'agent' });
    is(close_code($ws, 10), 4401, 'a supervisor demoted to agent: the socket is closed with 4401');

    my $keep = agent_ws($sup);
    $ws = agent_ws($ann);
    sleep 3;    # a re-check or more
    $keep->send_json({ type => 'ping' });
    is(($keep->next_event(3) // {})->{type}, 'pong', 'a socket whose agent still stands stays open');
    $keep->close;
    $ws->close;
}

$_->close for $cws, $sws, $aws;
$ng->stop;

# --- a closing socket whose peer stopped reading does not pin an old worker -------------------

{
    my $p2 = ChatTest::free_port();
    my $rl = start_nginx(workers => 1, name => 'ws-sec-close',
                         http => "chat_rate 100r/s burst=1000;\n"
                               . "    server { listen 127.0.0.1:$p2 sndbuf=8k; location /chat/api/ { chat_api; } }");
    my ($tok, $auth) = session($rl);
    my $ws = ChatWS->connect(port => $p2, path => "/chat/api/v1/ws?after=0&token=$tok", rcvbuf => 4096);
    ok($ws, 'a client opens a socket, then stops reading');
    for my $i (1 .. 20) {
        $rl->post('/chat/api/v1/messages', headers => $auth, json => { text => ('x' x 3990) . $i, client_id => uuid() });
    }
    my @old = $rl->worker_pids;
    $rl->reload;
    ok(wait_until(sub { !grep { kill 0, $_ } @old }, 30, 0.2),
       'after a reload the old worker exits although the peer never read its close frame');
    $ws->close;
    $rl->stop;
}

# --- without Redis, a worker that fell behind the event ring resumes its sockets --------------

# the pid of the nginx worker holding the server side of a client socket
sub owner_pid {
    my ($inst, $ws) = @_;
    my $cport = sprintf '%04X', $ws->{sock}->sockport;
    my $sport = sprintf '%04X', $inst->port;
    my $inode;
    open my $fh, '<', '/proc/net/tcp' or die "/proc/net/tcp: $!";
    while (<$fh>) {
        my @f = split ' ';
        next unless @f > 9 && $f[1] =~ /:$sport$/ && $f[2] =~ /:$cport$/;
        $inode = $f[9];
    }
    return undef unless $inode;
    for my $pid ($inst->worker_pids) {
        for my $fd (glob "/proc/$pid/fd/*") {
            return $pid if (readlink($fd) // '') eq "socket:[$inode]";
        }
    }
    return undef;
}

{
    my $nr = start_nginx(workers => 2, no_redis => 1, name => 'ws-sec-ring', http => 'chat_rate 1000r/s burst=4000;');
    my ($tok, $auth) = session($nr);
    my $ws = ChatWS->connect(port => $nr->port, path => "/chat/api/v1/ws?after=0&token=$tok");
    my @seen = grep { $_->{type} eq 'message.created' } $ws->drain(1);
    my $last = @seen ? $seen[-1]{seq} : 0;
    my $pid = owner_pid($nr, $ws);
    ok($pid, 'the socket lives in one worker');
    kill 'STOP', $pid;
    # stopped for real (state T) before any write connects, so the other worker takes them all
    ok(wait_until(sub { open(my $st, '<', "/proc/$pid/stat") or return 0;
                        (<$st> // '') =~ /^\d+ \(.*\) T /; }, 5, 0.02), 'the worker is stopped');
    sleep 0.2;
    # 3 events per write (message, bot reply, conversation): more than the ring holds
    my $ok = 0;
    for my $i (1 .. 400) {
        $ok++ if $nr->post('/chat/api/v1/messages', headers => $auth,
                           json => { text => "ring $i", client_id => uuid() })->{status} == 201;
    }
    kill 'CONT', $pid;
    is($ok, 400, 'the other worker took 400 writes meanwhile');
    my @got;
    while (defined(my $e = $ws->next_event(10))) { push @got, $e if $e->{type} eq 'message.created' }
    is($ws->{closed}, 1011, 'the lagging worker closes its socket with a code clients reconnect on');
    $last = $got[-1]{seq} if @got;
    ok($nr->status->{counters}{ring_dropped} > 0, '/chat/status counts the events dropped by the ring');
    my ($metric) = $nr->get('/chat/metrics')->{body} =~ /^nginx_chat_ring_dropped_total (\d+)$/m;
    ok(($metric // 0) > 0, '/chat/metrics too');
    my $again = ChatWS->connect(port => $nr->port, path => "/chat/api/v1/ws?after=$last&token=$tok");
    my @rest = grep { $_->{type} eq 'message.created' } $again->drain(1.5);
    my $total = $nr->get('/chat/api/v1/conversation', headers => $auth)->{json}{conversation}{last_seq};
    is_deeply([ map { $_->{seq} } @rest ], [ $last + 1 .. $total ],
              'the client resumes with after= and gets everything it missed, without a gap');
    $again->close;
    $nr->stop;
}

done_testing;
