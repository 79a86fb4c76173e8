# Escalation, read receipts and the rate limit (API.md "Customer endpoints",
# "Lifecycle"): automated -> agent once, queue message once, the bot falls
# silent, 429 with Retry-After past the bucket.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;

my $ng = ChatTest::start_nginx(workers => 2, http => 'chat_rate 1r/s burst=5;');

# nobody is online to take the chat (earlier suites or runs may have left agents online)
ChatTest::sql("UPDATE agents SET presence = 'offline' WHERE presence <> 'offline'");

my $s = $ng->post('/chat/api/v1/session', json => {})->{json};
my $auth = { Authorization => "Bearer $s->{token}" };

my $e = $ng->post('/chat/api/v1/escalate', headers => $auth, json => {});
is($e->{status}, 200, 'escalating answers 200');
is($e->{json}{conversation}{status}, 'agent', 'the conversation waits for an agent');
ok($e->{json}{conversation}{requested_agent_at}, 'requested_agent_at is set');
ok($e->{json}{conversation}{queue_position} >= 1, 'it has a queue position');
is(scalar @{ $e->{json}{messages} }, 1, 'one system message is added');
is($e->{json}{messages}[0]{sender_type}, 'system', 'from the system');
is($e->{json}{messages}[0]{content}, 'All agents are busy. You are in queue.', 'saying the customer waits in the queue');

my $st = $ng->status;
ok($st->{queue_length} >= 1, '/chat/status counts the queue');
is($st->{agents_online}, 0, 'and the agents online');

my $e2 = $ng->post('/chat/api/v1/escalate', headers => $auth, json => {});
is($e2->{status}, 200, 'escalating again answers 200');
is(scalar @{ $e2->{json}{messages} }, 0, 'and adds no message');
is($e2->{json}{conversation}{last_seq}, $e->{json}{conversation}{last_seq}, 'and changes nothing');

my $m = $ng->post('/chat/api/v1/messages', headers => $auth,
                  json => { text => 'How long does shipping take?', client_id => '00000000-0000-4000-8000-00000000e001' });
is($m->{status}, 201, 'the customer can still write');
is(scalar @{ $m->{json}{messages} }, 1, 'but the bot is silent while waiting for an agent');

# read receipts
my $last = $m->{json}{conversation}{last_seq};
my $before = $ng->get('/chat/api/v1/conversation?after=0', headers => $auth)->{json};
ok($before->{conversation}{unread_count} > 0, 'bot and system messages start unread');
my $rd = $ng->post('/chat/api/v1/read', headers => $auth, json => { up_to_seq => $last });
is($rd->{status}, 204, 'marking read answers 204');
my $after = $ng->get('/chat/api/v1/conversation?after=0', headers => $auth)->{json};
is($after->{conversation}{unread_count}, 0, 'then nothing is unread');
ok((grep { $_->{sender_type} ne 'customer' && $_->{read_at} } @{ $after->{messages} }),
   'and the messages carry read_at');
ok(!(grep { $_->{sender_type} eq 'customer' && $_->{read_at} } @{ $after->{messages} }),
   "the customer's own messages are not marked");
is($ng->post('/chat/api/v1/read', headers => $auth, json => { up_to_seq => 'x' })->{status}, 422,
   'a bad up_to_seq is 422');

# rate limit: burst 5, then 429 with Retry-After
my $s2 = $ng->post('/chat/api/v1/session', json => {})->{json};
my $a2 = { Authorization => "Bearer $s2->{token}" };
my @st;
for my $i (1 .. 8) {
    my $r = $ng->post('/chat/api/v1/messages', headers => $a2,
                      json => { text => "message $i", client_id => sprintf('00000000-0000-4000-8000-0000000ff%03d', $i) });
    push @st, $r;
}
is(scalar(grep { $_->{status} == 201 } @st), 5, 'the burst of 5 passes');
my ($limited) = grep { $_->{status} == 429 } @st;
ok($limited, 'then 429');
is($limited->{json}{error}{code}, 'rate_limited', 'with code rate_limited');
like($limited->{headers}{'retry-after'} // '', qr/^\d+$/, 'and a Retry-After header');
my $other = $ng->post('/chat/api/v1/messages', headers => $auth,
                      json => { text => 'still me', client_id => '00000000-0000-4000-8000-00000000e002' });
is($other->{status}, 201, 'another session is not limited');
sleep 2;
my $later = $ng->post('/chat/api/v1/messages', headers => $a2,
                      json => { text => 'later', client_id => '00000000-0000-4000-8000-0000000ff100' });
is($later->{status}, 201, 'the bucket refills');

# a body that is JSON but not an object is refused like on every other write,
# and escalates nothing
for my $body ('[]', '"x"', '1', 'null') {
    my $sx = $ng->post('/chat/api/v1/session', json => {})->{json};
    my $h = { Authorization => "Bearer $sx->{token}", 'Content-Type' => 'application/json' };
    my $m = $ng->post('/chat/api/v1/messages', headers => $h, body => $body);
    my $x = $ng->post('/chat/api/v1/escalate', headers => $h, body => $body);
    is($m->{status}, 400, "POST /messages with body $body is 400");
    is($x->{status}, $m->{status}, "POST /escalate with body $body answers the same");
    is($x->{json}{error}{code}, 'bad_request', '  with code bad_request');
    is($ng->get('/chat/api/v1/conversation', headers => $h)->{json}{conversation}{status}, 'automated',
       '  and the conversation is not escalated');
}

$ng->stop;
done_testing;
