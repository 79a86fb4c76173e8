# Departments and routing (API.md "Operators": "Departments and routing", "Offline"):
# POST /escalate {"department_id"} (422 for anything but a department of the request's
# site), the Conversation's department/priority/offline, assignment to members only by
# each strategy (least_loaded, round_robin, sticky), priority before age across the queues
# an agent serves, offline escalation (outside hours or nobody online) with the away
# message once, queue_position per queue, who sees and claims a department's queued chat
# (its members, supervisors and admins; another agent gets 404 as for any chat hidden
# from them) and who hears its events (the same, never another site).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest qw(:DEFAULT bearer);
use ChatWS;
use JSON::PP ();

my $BUSY = 'All agents are busy. You are in queue.';
my $AWAY = "We're away right now. Leave your email and we'll get back to you.";

sub reset_state { ChatTest::quiet_state() }    # nobody online, no open chat: each part below starts from here
reset_state();

my $S2 = 't43-shop';
my $ng = ChatTest::start_nginx(workers => 2, http => 'chat_rate 1000r/s burst=1000;', server => <<"CONF");
        location /shop/chat/api/ { chat_api; chat_site $S2; }
CONF
my $C = '/chat/api/v1';
my $A = '/chat/api/v1/agent';
my $run = ChatTest::run_id();
my $admin = bearer($ng->agent_login('admin', 'Admin@123')->{token});
sub create_agent { $ng->new_agent($admin, @_) }
sub department {    # made with SQL (the admin endpoints are another issue's)
    my ($name, $strategy, $members, %o) = @_;
    return ChatTest::department("$name $run", strategy => $strategy, members => $members, %o);
}
sub customer { $ng->customer(@_) }
sub escalate { $ng->escalate(@_) }
sub presence { $ng->presence(@_) }
sub conv {    # the conversation as Postgres has it now (the admin's agent view)
    my ($c) = @_;
    my $r = $ng->get("$A/conversations/$c->{id}", headers => $admin);
    die "agent view: $r->{status} $r->{body}" unless $r->{status} == 200;
    return $r->{json}{conversation};
}
sub agent_of { my $a = conv($_[0])->{assigned_agent}; $a ? $a->{id} : undef }
sub messages_of {
    my ($c) = @_;
    return $ng->get("$C/conversation?after=0&limit=200", headers => $c->{auth})->{json}{messages};
}
sub count_text { my ($c, $text) = @_; scalar grep { $_->{content} eq $text } @{ messages_of($c) } }

my $m1  = create_agent('m1', max => 2);
my $m2  = create_agent('m2', max => 2);
my $m3  = create_agent('m3', max => 5);
my $out = create_agent('outsider', max => 5);                    # in no department
my $sup = create_agent('sup', role => 'supervisor', max => 5);
my $shop = create_agent('shop', max => 5, site => $S2, base => "/shop$C");           # granted both sites

my $sales   = department('Sales',   'least_loaded', [ $m1, $m2 ]);
my $rr      = department('Rotation', 'round_robin', [ $m1, $m2, $m3 ]);
my $sticky  = department('Sticky',  'sticky',       [ $m1, $m2 ]);
my $closed  = department('Closed',  'least_loaded', [ $m1 ], hours => '{"tz": "UTC"}');    # no open day
my $foreign = department('Foreign', 'least_loaded', [ $shop ], site => $S2);

# --- the Conversation's new fields; 422 on a bad department_id ---------------------------

my $c0 = customer();
my $fresh = $c0->{session}{conversation};
is($fresh->{department}, undef, 'a new conversation has department null');
is($fresh->{priority}, 'normal', '... priority normal');
ok(defined $fresh->{offline} && !$fresh->{offline}, '... offline false');
is_deeply($fresh->{tags}, [], '... tags []');
ok(exists $fresh->{rating} && !defined $fresh->{rating}, '... rating null');

for my $case ([ 'not-a-uuid', 'a string that is no UUID' ], [ 42, 'a number' ], [ {}, 'an object' ],
              [ '00000000-0000-4000-8000-000000000043', 'an unknown department' ],
              [ $foreign, "a department of another site ($S2)" ]) {
    my ($v, $what) = @$case;
    my $r = $ng->post("$C/escalate", headers => $c0->{auth}, json => { department_id => $v });
    is($r->{status}, 422, "escalate into $what: 422");
    is($r->{json}{error}{code}, 'validation', '... code validation');
    like($r->{json}{error}{message} // '', qr/department_id/, '... naming department_id');
}
is(conv($c0)->{status}, 'automated', 'nothing refused was applied: still automated');
is($ng->post("$C/escalate", headers => $c0->{auth}, json => { department_id => undef })->{status}, 200,
   'department_id null is the default queue: 200');
is(conv($c0)->{department}, undef, '... with no department');

# --- offline: nobody of the department online, or outside its hours ------------------------

reset_state();
my $o1 = customer();
my $e1 = escalate($o1, $sales);
is($e1->{conversation}{status}, 'agent', 'escalation into a department with nobody online: status agent');
is_deeply($e1->{conversation}{department}, { id => $sales, name => "Sales $run" }, '... department {id, name}');
ok($e1->{conversation}{offline}, '... offline true');
is($e1->{conversation}{assigned_agent}, undef, '... queued');
is($e1->{conversation}{queue_position}, 1, '... first in its queue');
is_deeply([ map { $_->{content} } @{ $e1->{messages} } ], [ $AWAY ], '... the away message is the one message added');
is($e1->{messages}[0]{metadata}{event}, 'offline', '... marked as the offline event');
my $again = $ng->post("$C/escalate", headers => $o1->{auth}, json => { department_id => $sales });
is_deeply($again->{json}{messages}, [], 'escalating again adds nothing');
is(count_text($o1, $AWAY), 1, 'the away message is there once');
is(count_text($o1, $BUSY), 0, 'and not the busy message');

my $o2 = customer();
is(escalate($o2, $sales)->{conversation}{queue_position}, 2, 'a second one waits second in that queue');
my $d1 = customer();
my $de = escalate($d1);
is($de->{conversation}{queue_position}, 1, 'the default queue counts apart: first there');
ok(!$de->{conversation}{offline}, '... not offline');
is_deeply([ map { $_->{content} } @{ $de->{messages} } ], [ $BUSY ], '... with the busy message');

presence($m1, 'online');    # a member of Closed, free, but Closed has no open hours
my $h1 = customer();
my $he = escalate($h1, $closed);
ok($he->{conversation}{offline}, 'outside its hours a department queues offline although a member is online');
is($he->{conversation}{assigned_agent}, undef, '... and nobody is given it');
is(count_text($h1, $AWAY), 1, '... with the away message');
# m1 came online: Sales's oldest went to m1 (least_loaded, members only), then the default queue
is(agent_of($o1), $m1->{id}, 'a member coming online inside hours gets the offline conversation');
ok(conv($o1)->{offline}, '... which stays offline: true as a record');
is(agent_of($o2), $m1->{id}, 'and the next of the queue (capacity 2)');
is(agent_of($d1), undef, 'the default queue waits: m1 is full');
is(conv($d1)->{queue_position}, 1, '... still first there');
my $o3 = customer();
my $e3 = escalate($o3, $sales);
ok(!$e3->{conversation}{offline}, 'with a member online but at capacity, a department chat is not offline');
is_deeply([ map { $_->{content} } @{ $e3->{messages} } ], [ $BUSY ], '... and gets the busy message');
is($e3->{conversation}{queue_position}, 1, '... first in its queue (the served ones left it)');

# --- visibility, claim and events -----------------------------------------------------------

reset_state();
my %ws;
for my $ag ($m1, $out, $sup) {
    $ws{ $ag->{tag} } = ChatWS->connect(port => $ng->port, path => "$A/ws", headers => $ag->{auth});
    ok($ws{ $ag->{tag} }, "$ag->{tag}'s dashboard socket is open");
}
$ws{shop} = ChatWS->connect(port => $ng->port, path => "/shop$A/ws", headers => $shop->{auth});
ok($ws{shop}, "an agent of $S2 listens on $S2 too");
$_->drain(0.3) for values %ws;

my $q1 = customer();
escalate($q1, $sales);
my $q0 = customer();
escalate($q0);
my %heard;
for my $tag (keys %ws) {
    $heard{$tag} = { map { ($_->{conversation_id} // '') => 1 } $ws{$tag}->drain(1) };
}
ok($heard{m1}{ $q1->{id} }, "a member hears the department's queued conversation");
ok($heard{sup}{ $q1->{id} }, 'a supervisor hears it');
ok(!$heard{outsider}{ $q1->{id} }, 'an agent outside the department does not');
ok($heard{outsider}{ $q0->{id} }, '... but hears the default queue');
ok(!$heard{shop}{ $q1->{id} } && !$heard{shop}{ $q0->{id} }, "nothing of it reaches the socket of $S2");

# a customer message in the queued department chat: the same audience
$ng->post("$C/messages", headers => $q1->{auth}, json => { text => 'anyone there?' });
my %msg;
for my $tag (qw(m1 outsider sup)) {
    $msg{$tag} = grep { $_->{type} eq 'message.created' && $_->{conversation_id} eq $q1->{id} } $ws{$tag}->drain(1);
}
ok($msg{m1} && $msg{sup}, "the customer's message reaches the member and the supervisor");
ok(!$msg{outsider}, '... not the outsider');

# and the customer's typing in it (a socket's frame, routed by the department it learnt)
my $last = messages_of($q1)->[-1]{seq};
my $cws = ChatWS->connect(port => $ng->port, path => "$C/ws?after=$last&token=$q1->{token}");
ok($cws, 'the customer of the department chat listens on a socket');
$cws->drain(0.5);
$cws->send_json({ type => 'typing', typing => JSON::PP::true() });
my %typing;
for my $tag (qw(m1 outsider sup)) {
    $typing{$tag} = grep { $_->{type} eq 'typing' && $_->{conversation_id} eq $q1->{id} } $ws{$tag}->drain(1);
}
ok($typing{m1} && $typing{sup}, "the customer's typing reaches the member and the supervisor");
ok(!$typing{outsider}, '... not the outsider');
$cws->close;

my @oq = map { $_->{id} } @{ $ng->get("$A/conversations?view=queue&limit=100", headers => $out->{auth})->{json}{conversations} };
ok(!(grep { $_ eq $q1->{id} } @oq), "the outsider's queue view leaves out the department's chat");
ok((grep { $_ eq $q0->{id} } @oq), '... and lists the default queue');
my @mq = map { $_->{id} } @{ $ng->get("$A/conversations?view=queue&limit=100", headers => $m1->{auth})->{json}{conversations} };
ok((grep { $_ eq $q1->{id} } @mq) && (grep { $_ eq $q0->{id} } @mq), "a member's queue view lists both");
is($ng->get("$A/conversations/$q1->{id}", headers => $out->{auth})->{status}, 404, 'the outsider reading it: 404');
my $oc = $ng->post("$A/conversations/$q1->{id}/claim", headers => $out->{auth}, json => {});
is($oc->{status}, 404, "the outsider claiming another department's chat: 404 (hidden, as any chat not theirs)");
is(agent_of($q1), undef, '... it stays queued');
my $mc = $ng->post("$A/conversations/$q1->{id}/claim", headers => $m1->{auth}, json => {});
is($mc->{status}, 200, 'a member claims it: 200') or diag($mc->{body});
is(ChatTest::sql("SELECT last_assigned_at IS NOT NULL FROM department_agents
                   WHERE department_id = '$sales' AND agent_id = '$m1->{id}'"), 't',
   "... which moves the member's round-robin clock there");
my $q2 = customer();
escalate($q2, $sales);
my $sc = $ng->post("$A/conversations/$q2->{id}/claim", headers => $sup->{auth}, json => {});
is($sc->{status}, 200, 'a supervisor outside the department claims one: 200') or diag($sc->{body});
$_->close for values %ws;

# --- priority before age, across the queues an agent serves ----------------------------------

reset_state();
my @p = map { customer() } 1 .. 3;
escalate($_, $sales) for @p;
ChatTest::sql("UPDATE conversations SET priority = 'urgent' WHERE id = '$p[2]{id}';
               UPDATE conversations SET priority = 'high' WHERE id = '$p[1]{id}'");
is_deeply([ map { conv($_)->{queue_position} } @p ], [ 3, 2, 1 ], 'queue positions follow priority, then age');
is(conv($p[2])->{priority}, 'urgent', 'the Conversation shows its priority');
my $older = customer();
escalate($older);    # default queue, normal
my $hi = customer();
escalate($hi, $sales);
ChatTest::sql("UPDATE conversations SET priority = 'high' WHERE id = '$hi->{id}'");
ChatTest::sql("UPDATE agents SET max_active_chats = 1 WHERE id = '$m1->{id}'");
presence($m1, 'online');
is(agent_of($p[2]), $m1->{id}, 'a member coming online gets the urgent one first, though it is the youngest');
ChatTest::sql("UPDATE agents SET max_active_chats = 3 WHERE id = '$m1->{id}'");
presence($m1, 'online');
is(agent_of($p[1]), $m1->{id}, 'then the high ones by age, across its queues');
is(agent_of($hi), $m1->{id}, '... (a high one of the department before an older normal one of the default queue)');
is(agent_of($older), undef, '... which waits');
ChatTest::sql("UPDATE agents SET max_active_chats = 2 WHERE id = '$m1->{id}'");

# --- round_robin: the member assigned least recently, whatever their load ----------------------

reset_state();
ChatTest::sql("UPDATE department_agents SET last_assigned_at = NULL WHERE department_id = '$rr'");
presence($_, 'online') for $m3;
my @load = map { customer() } 1 .. 2;
escalate($_) for @load;    # m3 holds 2 chats of the default queue (the only one online)
presence($_, 'online') for $m1, $m2;
my @r = map { customer() } 1 .. 3;
my @got = map { escalate($_, $rr)->{conversation}{assigned_agent}{id} // '' } @r;
is_deeply([ sort @got ], [ sort map { $_->{id} } $m1, $m2, $m3 ],
          'round_robin gives three chats to three members, the busiest (m3) included');
is(ChatTest::sql("SELECT count(*) FROM department_agents WHERE department_id = '$rr' AND last_assigned_at IS NOT NULL"),
   3, "each member's clock in the department moved");
ChatTest::sql("UPDATE agents SET max_active_chats = 5 WHERE id IN ('$m1->{id}', '$m2->{id}')");
my @r2 = map { customer() } 1 .. 3;
my @got2 = map { escalate($_, $rr)->{conversation}{assigned_agent}{id} // '' } @r2;
is_deeply(\@got2, \@got, 'the next three go round in the same order');

# --- sticky: the agent who last served this customer ---------------------------------------

reset_state();
ChatTest::sql("UPDATE agents SET max_active_chats = 3 WHERE id IN ('$m1->{id}', '$m2->{id}')");
presence($m2, 'online');
my $s1 = customer();
is(escalate($s1, $sticky)->{conversation}{assigned_agent}{id}, $m2->{id}, 'sticky: the only member online serves a customer');
is($ng->post("$A/conversations/$s1->{id}/close", headers => $admin, json => {})->{status}, 200, 'the chat is closed');
presence($m1, 'online');
my $s1b = customer(token => $s1->{token});
isnt($s1b->{id}, $s1->{id}, 'the same browser opens a new conversation');
is(ChatTest::sql("SELECT count(DISTINCT customer_id) FROM conversations WHERE id IN ('$s1->{id}', '$s1b->{id}')"), 1,
   '... of the same customer');
# make m2 the busier member, so least_loaded alone would pick m1
my $extra = customer();
escalate($extra);
ChatTest::sql("UPDATE conversations SET assigned_agent_id = '$m2->{id}' WHERE id = '$extra->{id}'");
is(escalate($s1b, $sticky)->{conversation}{assigned_agent}{id}, $m2->{id},
   'sticky: the returning customer goes back to m2, though m2 is the busier member');
my $s2 = customer();
is(escalate($s2, $sticky)->{conversation}{assigned_agent}{id}, $m1->{id},
   'a customer nobody served yet goes to the least loaded member');
is($ng->post("$A/conversations/$s1b->{id}/close", headers => $admin, json => {})->{status}, 200, 'closed again');
presence($m2, 'away');
my $s1c = customer(token => $s1->{token});
is(escalate($s1c, $sticky)->{conversation}{assigned_agent}{id}, $m1->{id},
   'with their last agent away, the returning customer goes to another member');

# --- a department's conversations never go to non-members --------------------------------

reset_state();
presence($out, 'online');
presence($sup, 'online');
my $nm = customer();
my $nme = escalate($nm, $sales);
is($nme->{conversation}{assigned_agent}, undef, 'with only non-members online, a department chat waits');
ok($nme->{conversation}{offline}, '... offline (no member online)');
my $dq = customer();
ok(escalate($dq)->{conversation}{assigned_agent}, 'while the default queue is served by them');

reset_state();
$ng->stop;
done_testing;
