# Realtime (API.md "Events", the WebSocket rows): replay after a seq, live
# events both ways across two nginx instances through Redis, each socket gets
# exactly its own events, bad frames close the socket and the worker lives on,
# Redis outages and reloads lose nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use ChatWS;

my $a = ChatTest::start_nginx(workers => 2, name => 'ws-a');
my $b = ChatTest::start_nginx(workers => 2, name => 'ws-b');

sub session {
    my ($ng, %ctx) = @_;
    my $s = $ng->post('/chat/api/v1/session', json => { context => \%ctx })->{json};
    return ($s->{token}, { Authorization => "Bearer $s->{token}" }, $s);
}
my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', $$ * 10000 + ++$n) }
sub types { join ',', map { $_->{type} . ($_->{seq} ? ":$_->{seq}" : '') } @_ }

# handshake rules
my ($tok, $auth) = session($a);
my ($none, $st) = ChatWS->connect(port => $a->port, path => '/chat/api/v1/ws');
is($st, 401, 'a socket without a token is refused with 401');
my $plain = $a->get('/chat/api/v1/ws', headers => $auth);
is($plain->{status}, 400, 'a plain GET without the upgrade is 400');

# replay after a seq, then live events, no gap and no duplicate at the seam
$a->post('/chat/api/v1/messages', headers => $auth, json => { text => 'How long does shipping take?', client_id => uuid() });
my $ws = ChatWS->connect(port => $a->port, path => "/chat/api/v1/ws?after=1&token=$tok");
ok($ws, 'the customer socket upgrades (101)');
my @replay = $ws->drain(1);
is(types(grep { $_->{type} eq 'message.created' } @replay), 'message.created:2,message.created:3',
   'after=1 replays seq 2 and 3 in order');
$a->post('/chat/api/v1/messages', headers => $auth, json => { text => 'and returns?', client_id => uuid() });
my @live = grep { $_->{type} eq 'message.created' } $ws->drain(1);
is(types(@live), 'message.created:4,message.created:5', 'then live messages follow without a gap');
is($live[0]{data}{content}, 'and returns?', 'with the message as data');

# through the other instance, via Redis
$b->post('/chat/api/v1/messages', headers => $auth, json => { text => 'hello from b', client_id => uuid() });
my @via = grep { $_->{type} eq 'message.created' } $ws->drain(1.5);
is(types(@via), 'message.created:6,message.created:7', 'a write through another nginx reaches the socket');

# the other node's shared cache learns about the write too (through Redis)
my $cached = $a->get('/chat/api/v1/conversation?after=0', headers => $auth)->{json}{conversation}{last_seq};
$b->post('/chat/api/v1/messages', headers => $auth, json => { text => 'cache check', client_id => uuid() });
my $fresh = ChatTest::wait_until(sub {
    ($a->get('/chat/api/v1/conversation?after=0', headers => $auth)->{json}{conversation}{last_seq} // 0) > $cached
}, 5);
ok($fresh, "a write through another nginx is visible in this nginx's cached reads");
$ws->drain(1);

# client frames
$ws->send_json({ type => 'ping' });
is($ws->next_event(2)->{type}, 'pong', 'a ping frame is answered with pong');

# agent on instance b, customer on instance a: events both ways
my $adm = $b->post('/chat/api/v1/agent/login', json => { username => 'admin', password => 'Admin@123' })->{json};
my $user = "ws$$";
my $mk = $b->post('/chat/api/v1/admin/agents', headers => { Authorization => "Bearer $adm->{token}" },
                  json => { username => $user, display_name => 'Wes Socket', password => 'WsAgent12345!',
                            role => 'supervisor', max_active_chats => 500 });
is($mk->{status}, 201, 'a supervisor for the socket tests is created');
my $ag = $b->post('/chat/api/v1/agent/login', json => { username => $user, password => 'WsAgent12345!' })->{json};
my $ah = { Authorization => "Bearer $ag->{token}" };
my $aws = ChatWS->connect(port => $b->port, path => "/chat/api/v1/agent/ws?token=$ag->{token}");
ok($aws, 'the agent socket upgrades');
$b->post('/chat/api/v1/agent/presence', headers => $ah, json => { presence => 'online' });
$aws->drain(1);

$a->post('/chat/api/v1/escalate', headers => $auth, json => {});
my $conv = $a->get('/chat/api/v1/conversation', headers => $auth)->{json}{conversation};
my $cid = $conv->{id};
if (!$conv->{assigned_agent}) {
    $b->post("/chat/api/v1/agent/conversations/$cid/claim", headers => $ah);
}
my @ae = $aws->drain(1.5);
ok((grep { ($_->{conversation_id} // '') eq $cid } @ae), 'the agent socket hears about the escalated chat');

$a->post('/chat/api/v1/messages', headers => $auth, json => { text => 'are you there?', client_id => uuid() });
my @am = grep { $_->{type} eq 'message.created' && $_->{conversation_id} eq $cid } $aws->drain(1.5);
is(scalar(@am), 1, "the customer's message reaches the agent on the other instance once");
is($am[0]{data}{content}, 'are you there?', 'with its text');

$ws->drain(0.5);
my $post = $b->post("/chat/api/v1/agent/conversations/$cid/messages", headers => $ah,
                    json => { text => 'Yes, how can I help?', client_id => uuid() });
is($post->{status}, 201, 'the agent replies');
my @cm = grep { $_->{type} eq 'message.created' } $ws->drain(1.5);
is(scalar(@cm), 1, "the agent's reply reaches the customer on the other instance once");
is($cm[0]{data}{sender_type}, 'agent', 'as an agent message');

my $last = $cm[0]{seq};
$aws->drain(0.5);
is($a->post('/chat/api/v1/read', headers => $auth, json => { up_to_seq => $last })->{status}, 204,
   'the customer marks the reply read');
my ($rd) = grep { $_->{type} eq 'read' } $aws->drain(1.5);
ok($rd && $rd->{data}{up_to_seq} == $last && $rd->{data}{sender_type} eq 'customer',
   'the agent hears the read receipt');

$aws->send_json({ type => 'typing', typing => JSON::PP::true, conversation_id => $cid });
my ($typing) = grep { $_->{type} eq 'typing' } $ws->drain(1.5);
ok($typing && $typing->{data}{typing}, 'agent typing reaches the customer');
$ws->send_json({ type => 'typing', typing => JSON::PP::true });
my @selfecho = grep { $_->{type} eq 'typing' } $ws->drain(1);
is(scalar(@selfecho), 0, 'the customer does not hear its own typing');

# 40 sockets spread over the workers each get exactly their own events
my @clients;
for my $i (1 .. 40) {
    my $ng = $i % 2 ? $a : $b;
    my ($t, $h) = session($ng);
    my $c = ChatWS->connect(port => $ng->port, path => "/chat/api/v1/ws?after=1&token=$t");
    push @clients, { t => $t, h => $h, ws => $c, ng => $ng };
}
is(scalar(grep { $_->{ws} } @clients), 40, '40 sockets are open');
$_->{ws}->drain(0.2) for @clients;
for my $i (0 .. $#clients) {
    my $c = $clients[$i];
    ($i % 2 ? $a : $b)->post('/chat/api/v1/messages', headers => $c->{h},
                             json => { text => "client $i", client_id => uuid() });
}
my $exact = 0;
for my $i (0 .. $#clients) {
    my @m = grep { $_->{type} eq 'message.created' } $clients[$i]{ws}->drain(1);
    my @mine = grep { ($_->{data}{content} // '') eq "client $i" } @m;
    $exact++ if @mine == 1 && !(grep { $_->{data}{sender_type} eq 'customer' && $_->{data}{content} ne "client $i" } @m);
}
is($exact, 40, 'each of the 40 sockets got its own message once and nobody else\'s');
$_->{ws}->close for @clients;

# bad frames close the socket with the right code; the worker lives on
my $big = ChatWS->connect(port => $a->port, path => "/chat/api/v1/ws?token=$tok");
$big->drain(0.5);
$big->send_text('x' x (70 * 1024));
$big->next_message(3) while !defined $big->{closed} && defined $big->{sock};
is($big->{closed}, 1009, 'a frame over 64 KiB closes the socket with 1009');
my $bad = ChatWS->connect(port => $a->port, path => "/chat/api/v1/ws?token=$tok");
$bad->drain(0.5);
$bad->send_raw("\x81\x05hello");          # unmasked client frame
1 while defined $bad->next_message(3);
is($bad->{closed}, 1002, 'an unmasked frame closes the socket with 1002');
is($a->get('/chat/api/v1/health')->{status}, 200, 'and nginx still answers');

# Redis killed mid-test: writes still work, nothing is lost, realtime returns
ChatTest::redis_stop();
my $w1 = $a->post('/chat/api/v1/messages', headers => $auth, json => { text => 'while redis is down', client_id => uuid() });
is($w1->{status}, 201, 'writes work while Redis is down');
ChatTest::redis_start();
my $back = ChatTest::wait_until(sub { $a->get('/chat/api/v1/health/redis')->{status} == 200
                                      && $b->get('/chat/api/v1/health/redis')->{status} == 200 }, 10);
ok($back, 'Redis is back for both instances');
sleep 2;
my $ws2 = ChatWS->connect(port => $a->port, path => "/chat/api/v1/ws?after=0&token=$tok");
my @all = grep { $_->{type} eq 'message.created' } $ws2->drain(1);
ok((grep { $_->{data}{content} eq 'while redis is down' } @all), 'a resumed socket replays what was written meanwhile');
my @seqs = map { $_->{seq} } @all;
is_deeply(\@seqs, [ 1 .. scalar @seqs ], 'the replay has no gap');
$b->post('/chat/api/v1/messages', headers => $auth, json => { text => 'after redis', client_id => uuid() });
my @after = grep { $_->{type} eq 'message.created' } $ws2->drain(2);
ok((grep { $_->{data}{content} eq 'after redis' } @after), 'realtime across instances works again');

# reload: sockets are closed with 1001, clients resume
$a->reload;
1 while defined $ws2->next_message(5);
is($ws2->{closed}, 1001, 'a reload closes open sockets with 1001 (going away)');
my $ws3 = ChatWS->connect(port => $a->port, path => "/chat/api/v1/ws?after=0&token=$tok");
ok($ws3, 'the client reconnects after the reload');
ok(scalar(grep { $_->{type} eq 'message.created' } $ws3->drain(1)) >= 1, 'and resumes its history');

$b->post('/chat/api/v1/agent/presence', headers => $ah, json => { presence => 'offline' });
$_->close for grep { $_ } ($ws, $aws, $ws3);
$a->stop;
$b->stop;
done_testing;
