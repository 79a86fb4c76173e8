# Assignment under concurrency (API.md "Assignment", issue 4 "Tests"): 30 customers
# escalate at once through two nginx instances sharing one Postgres, against 2 agents
# with capacity 2: exactly 4 assigned, nobody over capacity, queue positions exactly
# 1..26; a freed slot goes to the oldest queued chat; claim and transfer respect
# capacity and presence; an agent gone past chat_agent_grace is marked offline and
# their chats return to the front of the queue.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use File::Temp qw(tempdir);
use POSIX ();
use Time::HiRes qw(time sleep);

# Deterministic global state: nobody online, no open conversation (the database is
# shared with the other test files). Before nginx starts, so no cache holds old state.
ChatTest::sql("UPDATE agents SET presence = 'offline';
               UPDATE conversations SET status = 'closed', closed_at = now(), assigned_agent_id = NULL
                WHERE status <> 'closed'");

my $rate = 'chat_rate 1000r/s burst=1000;';
my $ng1 = ChatTest::start_nginx(workers => 3, http => $rate);
my $ng2 = ChatTest::start_nginx(workers => 3, http => $rate);

my $run = sprintf('%d%d', $$, int(time * 1000) % 100000);
my $A = '/chat/api/v1/agent';
sub bearer { { Authorization => "Bearer $_[0]" } }
my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', ++$n + $$ * 1000) }

sub login {
    my ($ng, $u, $p) = @_;
    my $r = $ng->post("$A/login", json => { username => $u, password => $p });
    die "login $u: $r->{status} $r->{body}" unless $r->{status} == 200;
    return $r->{json};
}
my $admin = bearer(login($ng1, 'admin', 'Admin@123')->{token});

sub create_agent {
    my ($ng, $tag, $max) = @_;
    my $u = "t22.$tag.$run";
    my $p = "T22-Pass-$tag-$run";
    my $name = "T22 \u$tag $run";
    my $c = $ng->post('/chat/api/v1/admin/agents', headers => $admin,
                      json => { username => $u, password => $p, display_name => $name,
                                role => 'agent', max_active_chats => $max });
    die "create $u: $c->{status} $c->{body}" unless $c->{status} == 201;
    my $l = login($ng, $u, $p);
    return { id => $l->{agent}{id}, name => $name, auth => bearer($l->{token}) };
}
sub presence {
    my ($ng, $ag, $p) = @_;
    my $r = $ng->post("$A/presence", headers => $ag->{auth}, json => { presence => $p });
    die "presence: $r->{status} $r->{body}" unless $r->{status} == 200;
    return $r->{json}{agent};
}
sub new_customer {
    my ($ng) = @_;
    my $s = $ng->post('/chat/api/v1/session', json => {});
    die "session: $s->{status}" unless $s->{status} == 200;
    return { ng => $ng, auth => bearer($s->{json}{token}), id => $s->{json}{conversation}{id} };
}
sub view {    # a customer's GET /conversation, through either instance
    my ($c, $ng) = @_;
    my $r = ($ng // $c->{ng})->get('/chat/api/v1/conversation?after=0&limit=200', headers => $c->{auth});
    die "conversation: $r->{status}" unless $r->{status} == 200;
    return $r->{json};
}
sub positions {    # {conversation id => queue_position} of these customers, as they see it
    my %p;
    for my $c (@_) {
        my $v = view($c);
        $p{ $c->{id} } = $v->{conversation}{queue_position};
    }
    return \%p;
}
sub agent_of {    # the agent holding an open chat, as its customer sees it
    my $v = view($_[0]);
    return undef unless $v->{conversation}{status} eq 'agent' && $v->{conversation}{assigned_agent};
    return $v->{conversation}{assigned_agent}{id};
}
sub active_chats { $_[0]->get("$A/me", headers => $_[1]{auth})->{json}{agent}{active_chats} }

# --- 30 customers at once, two nodes, 2 agents with capacity 2 --------------------------

my $a1 = create_agent($ng1, 'alpha', 2);
my $a2 = create_agent($ng2, 'beta', 2);
presence($ng1, $a1, 'online');
presence($ng2, $a2, 'online');

my @cust = map { new_customer($_ % 2 ? $ng1 : $ng2) } 1 .. 30;

my $dir = tempdir(CLEANUP => 1);
my $start = time + 1.5;
my @pids;
for my $i (0 .. $#cust) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        # child: no Test::More output, no END blocks (they would stop the nginx instances)
        sleep($start - time) if $start > time;
        my $c = $cust[$i];
        my $r = $c->{ng}->post('/chat/api/v1/escalate', headers => $c->{auth}, json => {});
        if (open my $fh, '>', "$dir/$i") { print $fh $r->{status}; close $fh }
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
waitpid($_, 0) for @pids;
my @st = map { my $f = "$dir/$_"; my $v = 'none';
                if (open my $fh, '<', $f) { $v = <$fh> // 'none' }
                $v } 0 .. $#cust;
is(scalar(grep { $_ eq '200' } @st), 30, '30 concurrent escalations through two instances all answer 200')
    or diag("statuses: @st");

my (@assigned, @queued, %per_agent);
for my $c (@cust) {
    my $v = view($c, $c->{ng} == $ng1 ? $ng2 : $ng1);    # read through the other node
    $c->{conv} = $v;
    if (my $ag = $v->{conversation}{assigned_agent}) {
        push @assigned, $c;
        $per_agent{ $ag->{id} }++;
    } else {
        push @queued, $c;
    }
}
is(scalar @assigned, 4, 'exactly 4 conversations are assigned');
is(scalar @queued, 26, 'the other 26 wait');
ok(!(grep { $_ > 2 } values %per_agent), 'no agent holds more than their capacity of 2');
is_deeply([ sort keys %per_agent ], [ sort $a1->{id}, $a2->{id} ], 'both agents got chats');
is(active_chats($ng1, $a1), 2, 'agent alpha reports 2 active chats');
is(active_chats($ng2, $a2), 2, 'agent beta reports 2 active chats');
is(ChatTest::sql("SELECT count(*) FROM conversations WHERE status = 'agent' AND assigned_agent_id IS NOT NULL"), 4,
   'Postgres agrees: 4 open chats have an agent');
is(ChatTest::sql("SELECT count(*) FROM (SELECT assigned_agent_id FROM conversations WHERE status = 'agent'
                   AND assigned_agent_id IS NOT NULL GROUP BY 1 HAVING count(*) > 2) x"), 0,
   'Postgres agrees: nobody over capacity');

my @pos = sort { $a <=> $b } map { $_->{conv}{conversation}{queue_position} // 0 } @queued;
is_deeply(\@pos, [ 1 .. 26 ], 'the queued ones have queue positions exactly 1..26');
ok(!(grep { defined $_->{conv}{conversation}{queue_position} } @assigned), 'the assigned ones have none');
is(scalar(grep { my $c = $_; 1 == grep { $_->{content} eq 'All agents are busy. You are in queue.' }
                                     @{ $c->{conv}{messages} } } @queued), 26,
   'each queued customer sees the queue message exactly once');
is(scalar(grep { my $c = $_; !grep { $_->{content} eq 'All agents are busy. You are in queue.' }
                                    @{ $c->{conv}{messages} } } @assigned), 4,
   'the assigned ones never see it');
is(scalar(grep { my $c = $_; my $n = $c->{conv}{conversation}{assigned_agent}{display_name};
                 1 == grep { $_->{content} eq "$n joined the chat" } @{ $c->{conv}{messages} } } @assigned), 4,
   'each assigned customer sees "<name> joined the chat" once');

my @by_pos = sort { $a->{conv}{conversation}{queue_position} <=> $b->{conv}{conversation}{queue_position} } @queued;
my @req = map { $_->{conv}{conversation}{requested_agent_at} } @by_pos;
is_deeply(\@req, [ sort @req ], 'queue positions follow the order of escalation');
my ($latest_assigned) = sort { $b cmp $a } map { $_->{conv}{conversation}{requested_agent_at} } @assigned;
ok($latest_assigned le $req[0], 'the assigned ones escalated before every queued one');

my $qv = $ng1->get("$A/conversations?view=queue&limit=100", headers => $a1->{auth})->{json}{conversations};
is_deeply([ map { $_->{id} } @$qv ], [ map { $_->{id} } @by_pos ], 'view=queue lists them in queue order');

# --- closing one chat gives the slot to the oldest queued one ---------------------------------

my ($closing) = grep { $_->{conv}{conversation}{assigned_agent}{id} eq $a1->{id} } @assigned;
my $head = $by_pos[0];
my $cl = $ng2->post("$A/conversations/$closing->{id}/close", headers => $a1->{auth}, json => {});
is($cl->{status}, 200, 'alpha closes one chat');
ok(wait_until(sub { (agent_of($head) // '') eq $a1->{id} }, 5), 'the oldest queued conversation gets the slot, with alpha');
is(active_chats($ng1, $a1), 2, 'alpha is back at 2 active chats');
my $now = positions(@by_pos[1 .. $#by_pos]);
is_deeply([ map { $now->{ $_->{id} } } @by_pos[1 .. $#by_pos] ], [ 1 .. 25 ],
          'every other queue position moved down by one (now 1..25)');

# --- claim and transfer ----------------------------------------------------------------

my $next = $by_pos[1];
my $claim = $ng1->post("$A/conversations/$next->{id}/claim", headers => $a2->{auth}, json => {});
is($claim->{status}, 409, 'claim by an agent at capacity is 409');
is($claim->{json}{error}{code}, 'invalid_state', 'with code invalid_state');
is(agent_of($next), undef, 'and the chat stays queued');

my $a3 = create_agent($ng1, 'gamma', 2);    # offline
my ($a1chat) = grep { (agent_of($_) // '') eq $a1->{id} } @cust;
my $tr_off = $ng1->post("$A/conversations/$a1chat->{id}/transfer", headers => $a1->{auth},
                        json => { agent_id => $a3->{id} });
is($tr_off->{status}, 409, 'transfer to an offline agent is 409');
is($tr_off->{json}{error}{code}, 'invalid_state', 'with code invalid_state');
is(agent_of($a1chat), $a1->{id}, 'and the chat stays with its agent');
my $tr_other = $ng1->post("$A/conversations/$a1chat->{id}/transfer", headers => $a2->{auth},
                          json => { agent_id => $a2->{id} });
ok($tr_other->{status} == 403 || $tr_other->{status} == 404, "another agent can't transfer someone else's chat")
    or diag($tr_other->{status});
my $tr_bad = $ng1->post("$A/conversations/$a1chat->{id}/transfer", headers => $a1->{auth},
                        json => { agent_id => '00000000-0000-4000-8000-000000000000' });
ok($tr_bad->{status} == 404 || $tr_bad->{status} == 409 || $tr_bad->{status} == 422,
   'transfer to an unknown agent is refused') or diag($tr_bad->{status});

# an online agent with room exists only with an empty queue: the admin closes the queue
my $admin_closed = 0;
for my $c (@by_pos[1 .. $#by_pos]) {
    $admin_closed++ if $ng2->post("$A/conversations/$c->{id}/close", headers => $admin, json => {})->{status} == 200;
}
is($admin_closed, 25, 'an admin can close queued chats (emptying the queue)');
presence($ng2, $a3, 'online');
is(active_chats($ng2, $a3), 0, 'gamma comes online with room and nothing queued');
my $a1post = $ng2->post("$A/conversations/$a1chat->{id}/messages", headers => $a1->{auth},
                        json => { text => "alpha was here $run", client_id => uuid() });
is($a1post->{status}, 201, 'alpha writes in their chat before handing it on') or diag($a1post->{body});
my $before = view($a1chat)->{conversation}{last_seq};
my $tr = $ng2->post("$A/conversations/$a1chat->{id}/transfer", headers => $a1->{auth},
                    json => { agent_id => $a3->{id} });
is($tr->{status}, 200, 'transfer to an online agent with room is 200') or diag($tr->{body});
is($tr->{json}{conversation}{assigned_agent}{id}, $a3->{id}, 'the conversation now has gamma');
my $tv = view($a1chat);
is($tv->{conversation}{assigned_agent}{display_name}, $a3->{name}, 'the customer sees gamma as their agent');
my @sys = grep { $_->{seq} > $before && $_->{sender_type} eq 'system' } @{ $tv->{messages} };
ok((grep { $_->{content} =~ /\Q$a3->{name}\E/ && $_->{content} =~ /transfer/i } @sys),
   'a transfer system message names gamma') or diag(explain \@sys);
is(active_chats($ng1, $a1), 1, 'alpha has one chat less');
is(active_chats($ng1, $a3), 1, 'gamma has it');
is($ng1->get("$A/conversations/$a1chat->{id}", headers => $a3->{auth})->{status}, 200, 'gamma can read it');
is($ng1->post("$A/conversations/$a1chat->{id}/transfer", headers => $a3->{auth},
              json => { agent_id => $a3->{id} })->{status}, 409, 'transfer to the current agent is 409');
# Handed on, it is gamma's: alpha, who wrote in it, no longer reads it (404), and no view
# of alpha's lists it either (its last_message would show alpha what the customer tells
# gamma); an agent hears no event of it any more (t/34).
my $after = $ng1->post('/chat/api/v1/messages', headers => $a1chat->{auth},
                       json => { text => "told gamma only $run", client_id => uuid() });
is($after->{status}, 201, 'the customer writes to gamma');
is($ng1->get("$A/conversations/$a1chat->{id}", headers => $a1->{auth})->{status}, 404,
   'alpha cannot read the chat they transferred (404)');
for my $v (qw(all active queue)) {
    my $l = $ng1->get("$A/conversations?view=$v&limit=100", headers => $a1->{auth});
    is($l->{status}, 200, "alpha's view=$v answers 200");
    ok(!(grep { $_->{id} eq $a1chat->{id} } @{ $l->{json}{conversations} }),
       "... and does not list the chat now gamma's") or diag(explain [ grep { $_->{id} eq $a1chat->{id} } @{ $l->{json}{conversations} } ]);
}

# --- claim with room -------------------------------------------------------------------

presence($ng1, $a3, 'away');    # so that the next chat queues
presence($ng1, $a1, 'away');
my $qc = new_customer($ng1);
my $qe = $ng1->post('/chat/api/v1/escalate', headers => $qc->{auth}, json => {});
is($qe->{json}{conversation}{queue_position}, 1, 'with everyone full or away a new chat queues');
my $claim_ok = $ng2->post("$A/conversations/$qc->{id}/claim", headers => $a1->{auth}, json => {});
is($claim_ok->{status}, 200, 'alpha, under capacity, claims it: 200') or diag($claim_ok->{body});
is($claim_ok->{json}{conversation}{assigned_agent}{id}, $a1->{id}, 'and has it');
is(agent_of($qc), $a1->{id}, 'the customer sees alpha');
my $reclaim = $ng2->post("$A/conversations/$qc->{id}/claim", headers => $a3->{auth}, json => {});
ok($reclaim->{status} == 409 || $reclaim->{status} == 404, 'claiming an assigned chat is refused')
    or diag($reclaim->{status});

# clean up: close every open chat, everyone offline
for my $c (@cust, $qc) {
    $ng1->post("$A/conversations/$c->{id}/close", headers => $admin, json => {});
}
presence($ng1, $_, 'offline') for $a1, $a2, $a3;
is(ChatTest::sql("SELECT count(*) FROM conversations WHERE status = 'agent'"), 0, 'no open agent chats remain');

# --- grace: an agent without a heartbeat goes offline, their chats go to the front -----------

my $ng3 = ChatTest::start_nginx(workers => 2, http => "$rate\n    chat_agent_grace 2s;");
my $ae = create_agent($ng3, 'epsilon', 3);
presence($ng3, $ae, 'online');
my @mine = map { new_customer($ng3) } 1 .. 3;
for my $c (@mine) {
    my $e = $ng3->post('/chat/api/v1/escalate', headers => $c->{auth}, json => {});
    is($e->{json}{conversation}{assigned_agent}{id}, $ae->{id}, 'epsilon (online) gets a chat at once');
}
my @waiting = map { new_customer($ng3) } 1 .. 2;
for my $c (@waiting) {
    $ng3->post('/chat/api/v1/escalate', headers => $c->{auth}, json => {});
}
is_deeply([ map { positions(@waiting)->{ $_->{id} } } @waiting ], [ 1, 2 ], 'two more wait at positions 1, 2');

# epsilon stops all activity now
my $t0 = time;
my $gone = wait_until(sub {
    my $l = $ng3->get('/chat/api/v1/admin/agents', headers => $admin)->{json}{agents};
    my ($e) = grep { $_->{id} eq $ae->{id} } @$l;
    return $e && $e->{presence} eq 'offline';
}, 12, 0.5);
ok($gone, 'the silent agent is marked offline within ~10 s of chat_agent_grace 2s')
    or diag('after ' . (time - $t0) . ' s');
my $p = positions(@mine, @waiting);
is_deeply([ map { $p->{ $_->{id} } } @mine ], [ 1, 2, 3 ],
          'their chats are back at the FRONT of the queue, in their original order (1..3)');
is_deeply([ map { $p->{ $_->{id} } } @waiting ], [ 4, 5 ], 'the ones already waiting move behind them (4, 5)');
is(scalar(grep { my $v = view($_); !$v->{conversation}{assigned_agent}
                  && grep { $_->{sender_type} eq 'system' && $_->{content} =~ /queue/i && $_->{seq} > 2 } @{ $v->{messages} } } @mine),
   3, 'each requeued customer is told they are back in the queue');
is(agent_of($mine[0]), undef, 'nobody holds them');

# another agent comes online: the requeued chats are first to be assigned
my $af = create_agent($ng3, 'zeta', 2);
presence($ng3, $af, 'online');
is(agent_of($mine[0]), $af->{id}, 'a new online agent gets the first requeued chat');
is(agent_of($mine[1]), $af->{id}, 'and the second');
is(agent_of($waiting[0]), undef, 'before the ones that were waiting all along');
is_deeply([ map { positions(@mine, @waiting)->{ $_->{id} } } $mine[2], @waiting ], [ 1, 2, 3 ],
          'the rest of the queue moved up (1..3)');

# clean up
for my $c (@mine, @waiting) {
    $ng3->post("$A/conversations/$c->{id}/close", headers => $admin, json => {});
}
presence($ng3, $af, 'offline');

$ng3->stop;
$ng2->stop;
$ng1->stop;
done_testing;
