# Departments (API.md "Operators": Department, "Departments and routing", Admin): admins
# of a site list, create, update and delete its departments (409 on a name taken on the
# site, 422 naming each bad field, 404 for another site's); anyone lists a site's
# departments with whether each is open (inside its hours and a member online); an
# Agent shows the departments they belong to; POST /admin/agents takes "sites".
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest qw(:DEFAULT bearer);

my $root = ChatTest::repo_root();
my $chatctl = "$root/build/core/chatctl";
die "chatctl is not built: $chatctl (make core)\n" unless -x $chatctl;

my $S2 = sprintf('t42-%d%d', $$, time % 100000);   # a site of this run alone
my $S3 = "$S2-bare";                                # a shop without departments
my $ng = ChatTest::start_nginx(workers => 3, http => 'chat_rate 1000r/s burst=1000;', server => <<"CONF");
        location /shop/chat/api/ { chat_api; chat_site $S2; }
        location /bare/chat/api/ { chat_api; chat_site $S3; }
CONF

my $A  = '/chat/api/v1';          # the default site
my $B  = '/shop/chat/api/v1';     # site $S2
my $run = sprintf('%d%d', $$, time % 100000);
sub login { my ($base, $u, $p) = @_; $ng->post("$base/agent/login", json => { username => $u, password => $p }) }
sub chatctl { ChatTest::chatctl(@_) }

my $AH = bearer(login($A, 'admin', 'Admin@123')->{json}{token});

# An admin of site 2 only, made by the operator.
my $boss2 = "t42.admin.$run";
my ($rc, $out) = chatctl("Boss2-Pass-$run\n", 'agent', 'add', $boss2, '--role', 'admin', '--site', $S2,
                         '--password-stdin');
is($rc, 0, "an admin of $S2 is made") or diag $out;
my $BH = bearer(login($B, $boss2, "Boss2-Pass-$run")->{json}{token});

# Agents of the default site, made by its admin.
sub new_agent {
    my ($name, %extra) = @_;
    my $r = $ng->post("$A/admin/agents", headers => $AH,
                      json => { username => "t42.$name.$run", display_name => "T42 $name",
                                password => "T42-Pass-$run", %extra });
    is($r->{status}, 201, "agent $name is created") or diag $r->{body};
    return $r->{json}{agent};
}
my $ana = new_agent('ana');
my $ben = new_agent('ben');
my $gone = new_agent('gone');
is($ng->delete("$A/admin/agents/$gone->{id}", headers => $AH)->{status}, 204, 'one of them is deleted');

my $D  = "$A/admin/departments";
my $D2 = "$B/admin/departments";

# --- who may ----------------------------------------------------------------------------

my $agent_h = bearer(login($A, "t42.ana.$run", "T42-Pass-$run")->{json}{token});
is($ng->get($D, headers => $agent_h)->{status}, 403, 'an agent may not list departments: 403');
is($ng->post($D, headers => $agent_h, json => { name => 'x' })->{status}, 403, 'nor create one: 403');
is($ng->get($D)->{status}, 401, 'without a token: 401');

# --- create -----------------------------------------------------------------------------

my $plain = $ng->post($D, headers => $AH, json => { name => "  Plain $run  " });
is($plain->{status}, 201, 'the admin creates a department with a name only: 201');
my $p = $plain->{json}{department};
is_deeply([sort keys %$p], [qw(agent_ids hours id name strategy)], 'the answer is a Department');
is($p->{name}, "Plain $run", 'its name trimmed');
is($p->{strategy}, 'least_loaded', 'strategy least_loaded by default');
is_deeply($p->{agent_ids}, [], 'no members');
is($p->{hours}, undef, 'no hours (always open)');

my $hours = { tz => 'Europe/Berlin', mon => ['09:00', '17:00'], fri => ['10:00', '24:00'] };
my $full = $ng->post($D, headers => $AH,
                     json => { name => "Full $run", strategy => 'round_robin', hours => $hours,
                               agent_ids => [uc $ben->{id}, $ana->{id}, $ben->{id}] });
is($full->{status}, 201, 'and one with every field: 201') or diag $full->{body};
my $f = $full->{json}{department};
is($f->{strategy}, 'round_robin', 'with its strategy');
is_deeply($f->{agent_ids}, [sort($ana->{id}, $ben->{id})], 'its members, once each');
is_deeply($f->{hours}, $hours, 'its hours');

my $list = $ng->get($D, headers => $AH);
is($list->{status}, 200, 'the admin lists departments: 200');
my @mine = grep { $_->{name} =~ /\Q$run\E$/ } @{ $list->{json}{departments} };
is_deeply([map { $_->{id} } @mine], [$f->{id}, $p->{id}], 'both, by name');
is_deeply($mine[0], $f, 'each a Department');

# --- 409 and 400 ----------------------------------------------------------------------

my $dup = $ng->post($D, headers => $AH, json => { name => uc "full $run" });
is($dup->{status}, 409, 'a name taken on the site, in other case: 409');
is($dup->{json}{error}{code}, 'conflict', 'conflict');
is($ng->patch("$D/$p->{id}", headers => $AH, json => { name => "full $run" })->{status}, 409,
   'renaming to a taken name: 409');
is($ng->post($D, headers => $AH, json => {})->{status}, 400, 'no name: 400');
is($ng->post($D, headers => $AH, body => '[1]')->{status}, 400, 'a body that is no object: 400');

# --- 422, each naming its field ------------------------------------------------------------

my $other_site = $ng->post("$B/admin/agents", headers => $BH,
                           json => { username => "t42.other.$run", display_name => 'Other', password => "T42-Pass-$run" });
is($other_site->{status}, 201, "an agent of $S2") or diag $other_site->{body};
my $other = $other_site->{json}{agent};

my @bad = (
    [name      => { name => '' },                    'an empty name'],
    [name      => { name => '   ' },                 'a blank name'],
    [name      => { name => 'x' x 65 },              'a name of 65 characters'],
    [name      => { name => 42 },                    'a name that is no string'],
    [name      => { name => "a\x01b" },              'a name with a control character'],
    [strategy  => { strategy => 'random' },          'an unknown strategy'],
    [agent_ids => { agent_ids => 'nobody' },         'agent_ids that is no list'],
    [agent_ids => { agent_ids => ['not-a-uuid'] },   'an agent id that is no UUID'],
    [agent_ids => { agent_ids => [map { sprintf('00000000-0000-4000-8000-%012d', $_) } 1 .. 201] },
                                                     '201 agent ids'],
    [agent_ids => { agent_ids => ['00000000-0000-4000-8000-000000000000'] }, 'an agent that does not exist'],
    [agent_ids => { agent_ids => [$gone->{id}] },    'a deleted agent'],
    [agent_ids => { agent_ids => [$other->{id}] },   "an agent of $S2 only"],
    [hours     => { hours => 'always' },             'hours that are no object'],
    [hours     => { hours => { mon => ['09:00', '17:00'] } }, 'hours without tz'],
    [hours     => { hours => { tz => 'Not a zone' } },        'a tz outside the pattern'],
    [hours     => { hours => { tz => 'Mars/Olympus_Mons' } }, 'a tz Postgres does not know'],
    [hours     => { hours => { tz => 'UTC', monday => ['09:00', '17:00'] } }, 'an unknown key in hours'],
    [hours     => { hours => { tz => 'UTC', mon => ['17:00', '09:00'] } },    'a day that ends before it starts'],
    [hours     => { hours => { tz => 'UTC', mon => ['09:00', '09:00'] } },    'an empty day'],
    [hours     => { hours => { tz => 'UTC', mon => ['24:00', '24:00'] } },    '24:00 as a start'],
    [hours     => { hours => { tz => 'UTC', mon => ['9:00', '17:00'] } },     'a time not HH:MM'],
    [hours     => { hours => { tz => 'UTC', mon => ['09:00', '24:30'] } },    'a time past 24:00'],
    [hours     => { hours => { tz => 'UTC', mon => ['09:00'] } },             'a day of one time'],
);
for my $b (@bad) {
    my ($field, $body, $what) = @$b;
    my $r = $ng->post($D, headers => $AH, json => { name => "Bad $run", %$body });
    is($r->{status}, 422, "create with $what: 422");
    is($r->{json}{error}{code}, 'validation', '... validation');
    like($r->{json}{error}{message} // '', qr/^\Q$field\E\b/, "... naming $field") or diag $r->{body};
    my $u = $ng->patch("$D/$p->{id}", headers => $AH, json => $body);
    is($u->{status}, 422, "update with $what: 422");
    like($u->{json}{error}{message} // '', qr/^\Q$field\E\b/, "... naming $field");
}
ok(!(grep { $_->{name} eq "Bad $run" } @{ $ng->get($D, headers => $AH)->{json}{departments} }),
   'none of them was created');

# --- update -------------------------------------------------------------------------------

my $up = $ng->patch("$D/$p->{id}", headers => $AH,
                    json => { name => "Plainer $run", strategy => 'sticky', agent_ids => [$ana->{id}],
                              hours => { tz => 'UTC', sun => ['00:00', '24:00'] } });
is($up->{status}, 200, 'the admin updates every field: 200') or diag $up->{body};
is_deeply($up->{json}{department},
          { id => $p->{id}, name => "Plainer $run", strategy => 'sticky', agent_ids => [$ana->{id}],
            hours => { tz => 'UTC', sun => ['00:00', '24:00'] } }, 'the answer is the updated Department');
my $one = $ng->patch("$D/$p->{id}", headers => $AH, json => { strategy => 'least_loaded' });
is($one->{status}, 200, 'one field alone: 200');
is_deeply([@{ $one->{json}{department} }{qw(name strategy hours)}],
          ["Plainer $run", 'least_loaded', { tz => 'UTC', sun => ['00:00', '24:00'] }], 'the others kept');
is_deeply($one->{json}{department}{agent_ids}, [$ana->{id}], 'members kept');
my $cleared = $ng->patch("$D/$p->{id}", headers => $AH, json => { hours => undef, agent_ids => [] });
is($cleared->{json}{department}{hours}, undef, 'hours: null clears the hours');
is_deeply($cleared->{json}{department}{agent_ids}, [], 'agent_ids: [] removes every member');
is($ng->patch("$D/00000000-0000-4000-8000-000000000000", headers => $AH, json => { strategy => 'sticky' })->{status},
   404, 'an unknown id: 404');
is($ng->patch("$D/nope", headers => $AH, json => {})->{status}, 404, 'an id that is no UUID: 404');

# --- sites ------------------------------------------------------------------------------------

my $b2 = $ng->post($D2, headers => $BH, json => { name => "Full $run", agent_ids => [$other->{id}] });
is($b2->{status}, 201, "a name taken on the default site is free on $S2: 201") or diag $b2->{body};
my $d2 = $b2->{json}{department};
is_deeply([map { $_->{id} } @{ $ng->get($D2, headers => $BH)->{json}{departments} }], [$d2->{id}],
          "the admin of $S2 lists only its departments");
ok(!(grep { $_->{id} eq $d2->{id} } @{ $ng->get($D, headers => $AH)->{json}{departments} }),
   "the default admin does not see $S2\'s");
is($ng->patch("$D/$d2->{id}", headers => $AH, json => { name => 'mine' })->{status}, 404,
   "the default admin updating a department of $S2: 404");
is($ng->delete("$D/$d2->{id}", headers => $AH)->{status}, 404, '... deleting it: 404');
is($ng->patch("$D2/$f->{id}", headers => $BH, json => { name => 'mine' })->{status}, 404,
   "the admin of $S2 updating a default department: 404");
is($ng->delete("$D2/$f->{id}", headers => $BH)->{status}, 404, '... deleting it: 404');
is($ng->get($D2, headers => $AH)->{status}, 401, "a default admin token on $S2: 401");

# --- the public list ------------------------------------------------------------------------

# Deterministic hours: every day all day, or no day at all.
my $all_week = { tz => 'Europe/Berlin', map { $_ => ['00:00', '24:00'] } qw(mon tue wed thu fri sat sun) };
my $never    = { tz => 'Europe/Berlin' };
my $open  = $ng->post($D, headers => $AH, json => { name => "Open $run", hours => $all_week, agent_ids => [$ben->{id}] })
    ->{json}{department};
my $shut  = $ng->post($D, headers => $AH, json => { name => "Shut $run", hours => $never, agent_ids => [$ben->{id}] })
    ->{json}{department};
my $empty = $ng->post($D, headers => $AH, json => { name => "Empty $run" })->{json}{department};
ok($open && $shut && $empty, 'departments with all-week hours, with no day at all, and without members');

sub public {
    my ($base, %o) = @_;
    my $r = $ng->get("$base/departments", %o);
    return $r unless $r->{status} == 200;
    $r->{by_id} = { map { $_->{id} => $_ } @{ $r->{json}{departments} } };
    return $r;
}
my $pub = public($A);
is($pub->{status}, 200, 'anyone lists the departments of a site: 200');
is_deeply([sort keys %{ $pub->{json}{departments}[0] }], [qw(id name open)], 'each as {id, name, open}');
my @names = map { $_->{name} } @{ $pub->{json}{departments} };
is_deeply(\@names, [sort { lc $a cmp lc $b } @names], 'by name');
ok(!$pub->{by_id}{$d2->{id}}, "not the departments of $S2");
is($pub->{by_id}{$open->{id}}{name}, "Open $run", 'with its name');
ok(!$pub->{by_id}{$open->{id}}{open}, 'inside its hours with no member online: closed');
ok(!$pub->{by_id}{$shut->{id}}{open}, 'outside its hours: closed');
ok(!$pub->{by_id}{$empty->{id}}{open}, 'without members: closed');
is_deeply([map { $_->{id} } @{ public($B)->{json}{departments} }], [$d2->{id}], "$S2 lists its own only");

# a shop without departments: none listed, and escalation joins the default queue
my $bare = public('/bare/chat/api/v1');
is($bare->{status}, 200, 'a site without departments lists them: 200');
is_deeply($bare->{json}{departments}, [], '... an empty list');
my $bare_c = $ng->customer(base => '/bare/chat/api/v1');
my $bare_e = $ng->post('/bare/chat/api/v1/escalate', headers => $bare_c->{auth}, json => {});
is($bare_e->{status}, 200, 'a customer there escalates without a department: 200');
is($bare_e->{json}{conversation}{status}, 'agent', '... waiting for a person');
is($bare_e->{json}{conversation}{department}, undef, '... in the default queue (no department)');
ChatTest::sql("UPDATE conversations SET status = 'closed', closed_at = now() WHERE id = '$bare_c->{id}'");

my $ben_h = bearer(login($A, "t42.ben.$run", "T42-Pass-$run")->{json}{token});
is($ng->post("$A/agent/presence", headers => $ben_h, json => { presence => 'online' })->{status}, 200,
   'a member comes online');
$pub = public($A);
ok($pub->{by_id}{$open->{id}}{open}, 'inside its hours with a member online: open');
ok(!$pub->{by_id}{$shut->{id}}{open}, 'outside its hours, a member online: still closed');
ok(!$pub->{by_id}{$empty->{id}}{open}, 'without members: still closed');
my $st = $ng->status;
ok($st->{sites}{default}{agents_online} >= 1, '/chat/status counts the agents online per site');
ok($st->{agents_online} >= $st->{sites}{default}{agents_online}, '... within the total');
is($ng->head("$A/departments")->{status}, 200, 'HEAD answers too');
$ng->post("$A/agent/presence", headers => $ben_h, json => { presence => 'away' });
ok(!public($A)->{by_id}{$open->{id}}{open}, 'the member away: closed again');

# The list costs a round trip: without a session it is held to chat_session_rate per address.
{
    my $ng2 = ChatTest::start_nginx(workers => 1, session_rate => '1r/m burst=2');
    my @st = map { $ng2->get("$A/departments")->{status} } 1 .. 3;
    is_deeply(\@st, [200, 200, 429], 'anonymous lists past the per-address burst: 429');
    my $r = $ng2->get("$A/departments");
    ok($r->{headers}{'retry-after'}, 'with Retry-After');
    my $s = $ng2->post("$A/session", json => {});
    is($s->{status}, 429, '(opening a session shares that budget)');
    $ng2->stop;
}
{
    my $ng3 = ChatTest::start_nginx(workers => 1, session_rate => '1r/m burst=1');
    my $tok = $ng3->post("$A/session", json => {})->{json}{token};
    ok($tok, 'a customer opens a session');
    is($ng3->get("$A/departments")->{status}, 429, 'the address has no budget left');
    is($ng3->get("$A/departments", headers => bearer($tok))->{status}, 200,
       'a session lists departments on its own budget (chat_rate)');
    $ng3->stop;
}

# --- Agent += departments ------------------------------------------------------------------

my $me = $ng->get("$A/agent/me", headers => $ben_h)->{json}{agent};
is_deeply($me->{departments},
          [map { { id => $_->{id}, name => $_->{name} } } sort { lc $a->{name} cmp lc $b->{name} } $f, $open, $shut],
          'an Agent lists the departments they belong to, by name');
my $anas = (grep { $_->{id} eq $ana->{id} } @{ $ng->get("$A/admin/agents", headers => $AH)->{json}{agents} })[0];
is_deeply($anas->{departments}, [{ id => $f->{id}, name => "Full $run" }], 'in the admin list too');
is_deeply($ng->get("$B/agent/me", headers => bearer(login($B, $boss2, "Boss2-Pass-$run")->{json}{token}))
              ->{json}{agent}{departments}, [], 'an agent of no department: []');

# Granted both sites and a member on each; losing a site hides its department.
ChatTest::sql("UPDATE agents SET sites = ARRAY['default', '$S2'] WHERE id = '$ana->{id}'");
is($ng->patch("$D2/$d2->{id}", headers => $BH, json => { agent_ids => [$other->{id}, $ana->{id}] })->{status}, 200,
   "an agent granted $S2 too joins a department there");
is_deeply([map { $_->{id} } @{ $ng->get("$A/agent/me", headers => $agent_h)->{json}{agent}{departments} }],
          [$f->{id}, $d2->{id}], 'their Agent shows the departments of both sites');
ChatTest::sql("UPDATE agents SET sites = ARRAY['default'] WHERE id = '$ana->{id}'");
is_deeply([map { $_->{id} } @{ $ng->get("$A/agent/me", headers => $agent_h)->{json}{agent}{departments} }],
          [$f->{id}], "without $S2, only the default site's");

# An agent deleted, or losing the site, leaves its departments.
{
    my $cy = new_agent('cy');
    my $dy = new_agent('dy');
    ChatTest::sql("UPDATE agents SET sites = ARRAY['default', '$S2'] WHERE id = '$dy->{id}'");
    my $dd = $ng->post($D, headers => $AH, json => { name => "Members $run", agent_ids => [$cy->{id}, $dy->{id}] })
        ->{json}{department};
    my $d2b = $ng->post($D2, headers => $BH, json => { name => "Members $run", agent_ids => [$dy->{id}] })
        ->{json}{department};
    ok($dd && $d2b, 'two agents join departments, one of them on both sites');
    is($ng->delete("$A/admin/agents/$cy->{id}", headers => $AH)->{status}, 204, 'one is deleted');
    my %dep = map { $_->{id} => $_ } @{ $ng->get($D, headers => $AH)->{json}{departments} };
    is_deeply($dep{$dd->{id}}{agent_ids}, [$dy->{id}], 'a deleted agent leaves their departments');
    is($ng->patch("$D/$dd->{id}", headers => $AH, json => { agent_ids => $dep{$dd->{id}}{agent_ids} })->{status}, 200,
       'so the list read back is accepted as it is');
    is($ng->delete("$B/admin/agents/$dy->{id}", headers => $BH)->{status}, 204,
       "the admin of $S2 removes the other from $S2");
    my $members2 = sub {
        (grep { $_->{id} eq $d2b->{id} } @{ $ng->get($D2, headers => $BH)->{json}{departments} })[0]{agent_ids};
    };
    is_deeply($members2->(), [], "they leave the departments of $S2");
    %dep = map { $_->{id} => $_ } @{ $ng->get($D, headers => $AH)->{json}{departments} };
    is_deeply($dep{$dd->{id}}{agent_ids}, [$dy->{id}], 'and keep those of the default site');
    ChatTest::sql("UPDATE agents SET sites = ARRAY['default', '$S2'] WHERE id = '$dy->{id}'");
    $ng->patch("$D2/$d2b->{id}", headers => $BH, json => { agent_ids => [$dy->{id}] });
    is_deeply($members2->(), [$dy->{id}], "granted $S2 again, they rejoin");
    ChatTest::sql("UPDATE agents SET sites = ARRAY['$S2'] WHERE username = '$boss2'");
    my $p2 = $ng->patch("$A/admin/agents/$dy->{id}", headers => $AH, json => { sites => ['default'] });
    is($p2->{status}, 403, "(the default admin may not take $S2 away)");
    ChatTest::sql("UPDATE agents SET sites = ARRAY['default', '$S2'] WHERE username = 'admin'");
    $p2 = $ng->patch("$A/admin/agents/$dy->{id}", headers => $AH, json => { sites => ['default'] });
    is($p2->{status}, 200, "an admin granted $S2 takes it away with PATCH");
    ChatTest::sql("UPDATE agents SET sites = ARRAY['default'] WHERE username = 'admin'");
    is_deeply($members2->(), [], "the agent left the departments of $S2");
}

# --- delete ----------------------------------------------------------------------------------

is($ng->delete("$D/$f->{id}", headers => $AH)->{status}, 204, 'the admin deletes a department: 204');
ok(!(grep { $_->{id} eq $f->{id} } @{ $ng->get($D, headers => $AH)->{json}{departments} }), 'it is gone');
ok(!public($A)->{by_id}{$f->{id}}, 'from the public list too');
is_deeply($ng->get("$A/agent/me", headers => $agent_h)->{json}{agent}{departments}, [],
          'and from its members');
is($ng->delete("$D/$f->{id}", headers => $AH)->{status}, 404, 'deleting it again: 404');
is($ng->patch("$D/$f->{id}", headers => $AH, json => {})->{status}, 404, 'updating it: 404');
my $reuse = $ng->post($D, headers => $AH, json => { name => "Full $run" });
is($reuse->{status}, 201, 'its name is free again');

# --- POST /admin/agents takes sites -------------------------------------------------------------

my $mk = sub {
    my ($h, $base, $name, $sites) = @_;
    $ng->post("$base/admin/agents", headers => $h,
              json => { username => "t42.$name.$run", display_name => $name, password => "T42-Pass-$run",
                        defined $sites ? (sites => $sites) : () });
};
my $s1 = $mk->($AH, $A, 's1', ['default']);
is($s1->{status}, 201, 'POST /admin/agents with sites: 201');
is_deeply($s1->{json}{agent}{sites}, ['default'], 'granted them');
is($mk->($AH, $A, 's2', ['default', $S2])->{status}, 403, 'a site the admin is not granted: 403');
is($mk->($AH, $A, 's3', [$S2])->{status}, 403, '... even alone');
for my $bad ([['Bad!'], 'a name outside the pattern'], [[], 'no site'], ['default', 'a string'],
             [[1], 'a number'], [[map { "s$_" } 0 .. 100], '101 sites']) {
    my $r = $mk->($AH, $A, 's4', $bad->[0]);
    is($r->{status}, 422, "sites with $bad->[1]: 422");
    like($r->{json}{error}{message} // '', qr/^sites\b/, '... naming sites');
}
ChatTest::sql("UPDATE agents SET sites = ARRAY['default', '$S2'] WHERE username = '$boss2'");
my $both = $mk->($BH, $B, 's5', [$S2, 'default', $S2]);
is($both->{status}, 201, 'an admin granted both sites grants both') or diag $both->{body};
is_deeply($both->{json}{agent}{sites}, ['default', $S2], 'once each, in order');
my $none = $mk->($BH, $B, 's6', undef);
is_deeply($none->{json}{agent}{sites}, [$S2], "without sites: the admin's site ($S2)");
ChatTest::sql("UPDATE agents SET sites = ARRAY['$S2'] WHERE username = '$boss2'");

# --- a site's departments are bounded ------------------------------------------------------------
# Every assignment, of any site, probes the queue of each department of a site with queued
# chats under the one assign lock: one site's admin cannot add departments without end.
my $have = ChatTest::sql("SELECT count(*) FROM departments WHERE site = '$S2'");
ChatTest::sql("INSERT INTO departments (site, name) SELECT '$S2', 'Many ' || i || ' $run'
                 FROM generate_series(1, " . (199 - $have) . ") i");
is($ng->post($D2, headers => $BH, json => { name => "Two hundredth $run" })->{status}, 201,
   "the 200th department of $S2: 201");
my $over = $ng->post($D2, headers => $BH, json => { name => "One too many $run" });
is($over->{status}, 409, '... the 201st: 409');
like($over->{json}{error}{message} // '', qr/at most 200 departments/, '... saying why');
ok(!(grep { $_->{name} eq "One too many $run" } @{ $ng->get($D2, headers => $BH)->{json}{departments} }),
   '... and it was not made');

# This run's departments go, so the dev site's list stays the seed's.
ChatTest::sql("DELETE FROM departments WHERE name LIKE '% $run' OR site = '$S2'");

$ng->stop;
done_testing();
