# Events of chats changed as a side effect (API.md "Assignment", "Events"): a customer
# waiting in the queue hears at once when an agent coming online takes the chat.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use ChatWS;

my $ng = ChatTest::start_nginx(workers => 2);

ChatTest::sql("UPDATE agents SET presence = 'offline' WHERE presence <> 'offline'");
ChatTest::sql("UPDATE conversations SET status = 'closed', closed_at = now(), assigned_agent_id = NULL WHERE status <> 'closed'");

my $s = $ng->post('/chat/api/v1/session', json => {})->{json};
my $auth = { Authorization => "Bearer $s->{token}" };
my $e = $ng->post('/chat/api/v1/escalate', headers => $auth, json => {})->{json};
is($e->{conversation}{queue_position}, 1, 'the customer waits first in the queue');
my $last = $e->{conversation}{last_seq};

my $ws = ChatWS->connect(port => $ng->port, path => "/chat/api/v1/ws?after=$last&token=$s->{token}");
ok($ws, 'the customer listens on a socket');
$ws->drain(0.5);

my $adm = $ng->post('/chat/api/v1/agent/login', json => { username => 'admin', password => 'Admin@123' })->{json};
my $user = "onl$$";
$ng->post('/chat/api/v1/admin/agents', headers => { Authorization => "Bearer $adm->{token}" },
          json => { username => $user, display_name => 'Olga Online', password => 'OlgaOnline123!',
                    role => 'agent', max_active_chats => 3 });
my $ag = $ng->post('/chat/api/v1/agent/login', json => { username => $user, password => 'OlgaOnline123!' })->{json};
my $p = $ng->post('/chat/api/v1/agent/presence', headers => { Authorization => "Bearer $ag->{token}" },
                  json => { presence => 'online' });
is($p->{status}, 200, 'an agent comes online');

my @ev = $ws->drain(2);
my ($joined) = grep { $_->{type} eq 'message.created' } @ev;
ok($joined && $joined->{data}{content} eq 'Olga Online joined the chat', 'the customer hears "Olga Online joined the chat" at once');
is($joined && $joined->{seq}, $last + 1, 'as the next seq, without a gap');
my ($assigned) = grep { $_->{type} eq 'agent.assigned' } @ev;
is($assigned && $assigned->{data}{agent}{display_name}, 'Olga Online', 'and an agent.assigned event naming the agent');

$ng->post('/chat/api/v1/agent/presence', headers => { Authorization => "Bearer $ag->{token}" }, json => { presence => 'offline' });
$ws->close;
$ng->stop;
done_testing;
