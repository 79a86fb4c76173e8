# Routing under concurrency (issue 12, API.md "Departments and routing"): 30 customers
# escalate at once into 2 departments with overlapping members (least_loaded and
# round_robin) through two nginx instances sharing one Postgres. Capacity and "never two
# agents" hold per agent across both departments: every slot is filled, nobody is over
# capacity, no conversation is lost or joined twice, each department's chats go to its
# members only, and each queue's positions are exactly 1..n.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest qw(:DEFAULT bearer);
use File::Temp qw(tempdir);
use POSIX ();
use Time::HiRes qw(time sleep);

ChatTest::quiet_state(unassign => 1);

my $rate = 'chat_rate 1000r/s burst=1000;';
my $ng1 = ChatTest::start_nginx(workers => 3, http => $rate);
my $ng2 = ChatTest::start_nginx(workers => 3, http => $rate);

my $run = ChatTest::run_id();
my $A = '/chat/api/v1/agent';
my $admin = bearer($ng1->agent_login('admin', 'Admin@123')->{token});
sub create_agent {
    my ($ng, $tag) = @_;
    return { %{ $ng->new_agent($admin, $tag, max => 2, display_name => "T44 $tag") }, ng => $ng };
}
sub department {
    my ($name, $strategy, @members) = @_;
    return ChatTest::department("$name $run", strategy => $strategy, members => \@members);
}

# 4 agents of capacity 2: D1 = a1 a2 a3, D2 = a2 a3 a4 (a2 and a3 serve both)
my @ag = map { create_agent($_ % 2 ? $ng1 : $ng2, "a$_") } 1 .. 4;
my $d1 = department('D1', 'least_loaded', @ag[0 .. 2]);
my $d2 = department('D2', 'round_robin', @ag[1 .. 3]);
my %members = ($d1 => { map { $_->{id} => 1 } @ag[0 .. 2] }, $d2 => { map { $_->{id} => 1 } @ag[1 .. 3] });
$_->{ng}->presence($_, 'away') for @ag;

my @cust;
for my $i (1 .. 30) {
    my $ng = $i % 2 ? $ng1 : $ng2;
    my $s = $ng->post('/chat/api/v1/session', json => {});
    die "session: $s->{status}" unless $s->{status} == 200;
    push @cust, { ng => $ng, auth => bearer($s->{json}{token}), id => $s->{json}{conversation}{id},
                  dept => $i % 3 ? $d1 : $d2 };
}

# the agents come online while the escalations arrive: both race for the assign decisions
my $dir = tempdir(CLEANUP => 1);
my $start = time + 1.5;
my @pids;
for my $i (0 .. $#cust + @ag) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        sleep($start - time) if $start > time;
        my $r;
        if ($i <= $#cust) {
            my $c = $cust[$i];
            $r = $c->{ng}->post('/chat/api/v1/escalate', headers => $c->{auth}, json => { department_id => $c->{dept} });
        } else {
            my $a = $ag[$i - @cust];
            $r = ($a->{ng} == $ng1 ? $ng2 : $ng1)->post("$A/presence", headers => $a->{auth}, json => { presence => 'online' });
        }
        if (open my $fh, '>', "$dir/$i") { print $fh $r->{status}; close $fh }
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
waitpid($_, 0) for @pids;
my @st = map { my $v = 'none'; if (open my $fh, '<', "$dir/$_") { $v = <$fh> // 'none' } $v } 0 .. $#cust + @ag;
is(scalar(grep { $_ eq '200' } @st), 34, '30 escalations and 4 agents coming online, through two instances: all 200')
    or diag("statuses: @st");

my (%per_agent, %queued, $wrong, $joined_twice, $lost);
for my $c (@cust) {
    my $r = ($c->{ng} == $ng1 ? $ng2 : $ng1)->get("$A/conversations/$c->{id}", headers => $admin);
    die "view: $r->{status}" unless $r->{status} == 200;
    my $cv = $r->{json}{conversation};
    $lost++ unless $cv->{status} eq 'agent' && $cv->{department} && $cv->{department}{id} eq $c->{dept};
    my $joins = grep { ($_->{metadata}{event} // '') eq 'assigned' } @{ $r->{json}{messages} };
    if (my $a = $cv->{assigned_agent}) {
        $per_agent{ $a->{id} }++;
        $wrong++ unless $members{ $c->{dept} }{ $a->{id} };
        $joined_twice++ if $joins != 1;
    } else {
        push @{ $queued{ $c->{dept} } }, $cv->{queue_position};
        $joined_twice++ if $joins != 0;
    }
}
ok(!$lost, 'every conversation is in status agent, in the department it asked for') or diag("$lost lost");
ok(!$wrong, "each department's chats went to its members only") or diag("$wrong to non-members");
ok(!$joined_twice, 'no conversation was joined twice (or joined while queued)');
is(scalar(keys %per_agent), 4, 'all four agents got chats');
ok(!(grep { $_ != 2 } values %per_agent), 'each agent holds exactly their capacity of 2 (every slot filled, none over)')
    or diag(explain \%per_agent);
is(ChatTest::sql("SELECT count(*) FROM (SELECT assigned_agent_id FROM conversations WHERE status = 'agent'
                   AND assigned_agent_id IS NOT NULL GROUP BY 1 HAVING count(*) > 2) x"), 0,
   'Postgres agrees: nobody over capacity');
is(ChatTest::sql("SELECT count(*) FROM conversations WHERE status = 'agent' AND assigned_agent_id IS NOT NULL"), 8,
   'Postgres agrees: 8 open chats have an agent');
for my $d ($d1, $d2) {
    my @pos = sort { $a <=> $b } map { $_ // 0 } @{ $queued{$d} || [] };
    is_deeply(\@pos, [ 1 .. scalar @pos ], 'the queue positions of ' . ($d eq $d1 ? 'D1' : 'D2') . ' are exactly 1..'
              . scalar @pos);
}

# a freed slot goes to a queue its agent serves: a4 (D2 only) closes one and gets a D2 chat
my ($a4chat) = grep { my $r = $ng1->get("$A/conversations/$_->{id}", headers => $admin)->{json}{conversation};
                      ($r->{assigned_agent}{id} // '') eq $ag[3]{id} } @cust;
is($ng2->post("$A/conversations/$a4chat->{id}/close", headers => $ag[3]{auth}, json => {})->{status}, 200,
   'a4 closes a chat');
my $next = ChatTest::sql("SELECT department_id FROM conversations WHERE status = 'agent' AND assigned_agent_id = '$ag[3]{id}'
                           ORDER BY updated_at DESC LIMIT 1");
is($next, $d2, 'the slot went to a chat of D2, the department a4 serves');
is(ChatTest::sql("SELECT count(*) FROM conversations WHERE status = 'agent' AND assigned_agent_id = '$ag[3]{id}'"), 2,
   'a4 is back at capacity');

for my $c (@cust) { $ng1->post("$A/conversations/$c->{id}/close", headers => $admin, json => {}) }
for my $a (@ag) { $a->{ng}->post("$A/presence", headers => $a->{auth}, json => { presence => 'offline' }) }
$ng2->stop;
$ng1->stop;
done_testing;
