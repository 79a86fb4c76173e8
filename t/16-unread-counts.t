# unread_count (API.md "Conversation"): for the customer the agent, bot and system
# messages they have not marked read, for the agent the customer's. The database keeps
# them as counters on the conversation (sql/008_unread_counters.sql); this walks a chat
# through its life and checks every count against the messages themselves.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use Time::HiRes qw(time);

ChatTest::sql("UPDATE agents SET presence = 'offline'");

my $ng = ChatTest::start_nginx(workers => 2, http => 'chat_rate 1000r/s burst=1000;');

my $run = sprintf('%d%d', $$, int(time * 1000) % 100000);
my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8016-%012d', ++$n + $$ * 1000) }
sub bearer { { Authorization => "Bearer $_[0]" } }
my $A = '/chat/api/v1/agent';

sub login {
    my ($u, $p) = @_;
    my $r = $ng->post("$A/login", json => { username => $u, password => $p });
    die "login $u: $r->{status} $r->{body}" unless $r->{status} == 200;
    return $r->{json};
}

# what the messages say, for one side
sub counted {
    my ($cid, $side) = @_;
    my $cond = $side eq 'customer' ? "sender_type <> 'customer'" : "sender_type = 'customer'";
    return ChatTest::sql("SELECT count(*) FROM messages WHERE conversation_id = '$cid'
                           AND read_at IS NULL AND $cond");
}

my $s = $ng->post('/chat/api/v1/session', json => {})->{json};
my $cust = bearer($s->{token});
my $cid = $s->{conversation}{id};
is($s->{conversation}{unread_count}, 1, 'a new chat: the greeting is unread');

sub cust_unread { $ng->get('/chat/api/v1/conversation?after=0', headers => $cust)->{json}{conversation}{unread_count} }

my $m = $ng->post('/chat/api/v1/messages', headers => $cust,
                  json => { text => 'How long does shipping take?', client_id => uuid() });
is($m->{status}, 201, 'the customer asks');
is(scalar @{ $m->{json}{messages} }, 2, '... and the bot answers');
is($m->{json}{conversation}{unread_count}, 2, 'the answer of POST /messages counts the bot reply');
is(cust_unread(), 2, 'GET /conversation agrees');
is(cust_unread(), counted($cid, 'customer'), '... and so do the messages');

is($ng->post('/chat/api/v1/read', headers => $cust,
             json => { up_to_seq => $m->{json}{messages}[0]{seq} })->{status}, 204, 'reads up to its own message');
is(cust_unread(), counted($cid, 'customer'), 'a partial read leaves the later ones unread');
my $last = $ng->get('/chat/api/v1/conversation?after=0', headers => $cust)->{json}{conversation}{last_seq};
is($ng->post('/chat/api/v1/read', headers => $cust, json => { up_to_seq => $last })->{status}, 204, 'reads everything');
is(cust_unread(), 0, 'nothing unread');
is($ng->post('/chat/api/v1/read', headers => $cust, json => { up_to_seq => $last })->{status}, 204, 'reads again');
is(cust_unread(), 0, 'still nothing (never below zero)');

# an agent joins: the system message is unread for the customer, the customer's for the agent
my $admin = bearer(login('admin', 'Admin@123')->{token});
my ($u, $p) = ("t16.agent.$run", "T16-Pass-$run");
my $c = $ng->post('/chat/api/v1/admin/agents', headers => $admin,
                  json => { username => $u, password => $p, display_name => "T16 $run",
                            role => 'agent', max_active_chats => 5 });
is($c->{status}, 201, 'an agent is created');
my $ag = bearer(login($u, $p)->{token});
is($ng->post("$A/presence", headers => $ag, json => { presence => 'online' })->{status}, 200, 'who goes online');

my $e = $ng->post('/chat/api/v1/escalate', headers => $cust, json => {});
is($e->{status}, 200, 'the customer asks for a person');
is($e->{json}{conversation}{assigned_agent}{id}, login($u, $p)->{agent}{id}, '... and gets the agent');
is($e->{json}{conversation}{unread_count}, counted($cid, 'customer'), 'the join message is counted for the customer');
ok($e->{json}{conversation}{unread_count} >= 1, '... as unread');

for my $i (1 .. 3) {
    is($ng->post('/chat/api/v1/messages', headers => $cust,
                 json => { text => "question $i", client_id => uuid() })->{status}, 201, "customer message $i");
}
my $av = $ng->get("$A/conversations/$cid", headers => $ag)->{json};
is($av->{conversation}{unread_count}, counted($cid, 'agent'), 'the agent sees the customer messages unread');
cmp_ok($av->{conversation}{unread_count}, '>=', 3, '... at least the three new ones');

my $ap = $ng->post("$A/conversations/$cid/messages", headers => $ag, json => { text => 'Hello!', client_id => uuid() });
is($ap->{status}, 201, 'the agent answers');
is(cust_unread(), counted($cid, 'customer'), 'the customer has it unread');

is($ng->post("$A/conversations/$cid/read", headers => $ag,
             json => { up_to_seq => $av->{conversation}{last_seq} })->{status}, 204, 'the agent reads');
is($ng->get("$A/conversations/$cid", headers => $ag)->{json}{conversation}{unread_count}, 0,
   'nothing unread for the agent');
cmp_ok(cust_unread(), '>=', 2, 'the customer still has the join message and the answer unread');

is($ng->post("$A/conversations/$cid/close", headers => $ag, json => {})->{status}, 200, 'the agent closes');
is(cust_unread(), counted($cid, 'customer'), 'the close message is counted too');

# every conversation of the database: the counters are the messages' counts
is(ChatTest::sql(q{SELECT count(*) FROM conversations c
                    WHERE c.customer_unread <> (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id
                                                  AND m.read_at IS NULL AND m.sender_type <> 'customer')
                       OR c.agent_unread <> (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id
                                               AND m.read_at IS NULL AND m.sender_type = 'customer')}),
   0, 'every conversation in the database: counters equal the unread messages');

is($ng->post("$A/presence", headers => $ag, json => { presence => 'offline' })->{status}, 200, 'the agent leaves');
$ng->stop;
done_testing;
