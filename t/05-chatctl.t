# chatctl, the operator CLI: migrate (idempotent, safe when two run at once), agent
# add/passwd/list/disable, faq import/export (round trip), errors and exit codes.
# No nginx: every check runs in a throwaway schema of the test database (search_path set
# through the conninfo), so the shared dev data is never touched.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp qw(tempdir);
use JSON::PP;
use POSIX ();
use Test::More;
use ChatTest;

my $root    = repo_root();
my $chatctl = "$root/build/core/chatctl";
die "chatctl is not built: $chatctl (make core)\n" unless -x $chatctl;

my $base = 'host=127.0.0.1 port=' . ($ENV{CHAT_PG_PORT} || 55432)
         . ' dbname=chat user=chat password=chat';
my $tmp  = tempdir(CLEANUP => 1);
my $json = JSON::PP->new->utf8->canonical;

# Starts a command with stdin from a string; returns a handle for finish().
my $seq = 0;
sub spawn {
    my ($stdin, @cmd) = @_;
    my $n = ++$seq;
    open my $in, '>', "$tmp/$n.in" or die $!;
    print $in $stdin // '';
    close $in;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN,  '<', "$tmp/$n.in"  or POSIX::_exit(126);
        open STDOUT, '>', "$tmp/$n.out" or POSIX::_exit(126);
        open STDERR, '>', "$tmp/$n.err" or POSIX::_exit(126);
        exec @cmd or POSIX::_exit(127);
    }
    return { pid => $pid, n => $n };
}

sub slurp { my $f = shift; open my $h, '<', $f or return ''; local $/; my $s = <$h>; $s // '' }

# (exit code, stdout, stderr)
sub finish {
    my $h = shift;
    waitpid $h->{pid}, 0;
    return ($? >> 8, slurp("$tmp/$h->{n}.out"), slurp("$tmp/$h->{n}.err"));
}

sub run_cmd { finish(spawn(@_)) }

# chatctl against schema $schema; returns (rc, out, err)
sub ctl {
    my ($schema, $stdin, @args) = @_;
    my $ci = $schema ? "$base options='-c search_path=$schema'" : $base;
    return run_cmd($stdin, $chatctl, '--conninfo', $ci, @args);
}

sub psql {
    my ($schema, $sql) = @_;
    my $ci = $schema ? "$base options='-c search_path=$schema'" : $base;
    my ($rc, $out, $err) = run_cmd('', 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', $ci, '-c', $sql);
    die "psql: $sql: $err" if $rc;
    chomp $out;
    return $out;
}

sub fresh_schema { ChatTest::fresh_schema('chatctl_t') }

my @files    = sort map { (m{/(\d{3}_[^/]*)\.sql$})[0] } glob "$root/sql/[0-9][0-9][0-9]_*.sql";
my $nfiles   = scalar @files;
ok($nfiles >= 3, "sql/ has migrations (@files)");

# --- usage and errors ------------------------------------------------------------

{
    my ($rc, $out) = run_cmd('', $chatctl, '--help');
    is($rc, 0, '--help exits 0');
    like($out, qr/usage: chatctl/, '--help prints the usage');
    like($out, qr/agent add USERNAME/, '... with the agent commands');

    ($rc, $out, my $err) = run_cmd('', $chatctl, 'frobnicate');
    is($rc, 1, 'unknown command exits 1');
    like($err, qr/unknown command: frobnicate/, '... naming it');
    like($err, qr/usage: chatctl/, '... and printing the usage');

    ($rc, $out, $err) = run_cmd('', $chatctl);
    is($rc, 1, 'no command exits 1');

    ($rc, $out, $err) = run_cmd('', $chatctl, 'agent', 'explode', 'x');
    is($rc, 1, 'unknown agent subcommand exits 1');

    ($rc, $out, $err) = run_cmd('', $chatctl, 'migrate', '--bogus');
    is($rc, 1, 'unknown option exits 1');
    like($err, qr/unknown option --bogus/, '... naming it');

    my $port = free_port();
    ($rc, $out, $err) = run_cmd('', $chatctl, '--conninfo', "host=127.0.0.1 port=$port dbname=chat user=chat",
                                'agent', 'list');
    is($rc, 2, 'unreachable database exits 2');
    like($err, qr/cannot connect to Postgres: .*\S/s, "... with libpq's message") or diag($err);

    ($rc, $out, $err) = run_cmd('', $chatctl, '--conninfo', 'this is not a conninfo', 'agent', 'list');
    is($rc, 2, 'malformed conninfo exits 2');
    like($err, qr/cannot connect to Postgres: .*\S/s, "... with libpq's message") or diag($err);

    {
        local $ENV{CHAT_PG_CONNINFO};
        delete $ENV{CHAT_PG_CONNINFO};
        ($rc, $out, $err) = run_cmd('', $chatctl, 'agent', 'list');
        is($rc, 1, 'no --conninfo and no CHAT_PG_CONNINFO exits 1');
        like($err, qr/CHAT_PG_CONNINFO/, '... saying how to give one');
    }
    {
        local $ENV{CHAT_PG_CONNINFO} = $base;
        ($rc, $out, $err) = run_cmd('', $chatctl, 'faq', 'export', '--compact');
        is($rc, 0, 'CHAT_PG_CONNINFO is used without --conninfo') or diag($err);
    }

    ($rc, $out, $err) = run_cmd('', $chatctl, '--conninfo', $base, 'migrate', '--dir', "$tmp/nope");
    is($rc, 1, 'migrate --dir of a missing directory exits 1');
}

# --- migrate ---------------------------------------------------------------------

my $s = fresh_schema();
{
    my ($rc, $out, $err) = ctl($s, '', 'migrate', '--dir', "$root/sql");
    is($rc, 0, 'migrate on an empty schema') or diag($err);
    is_deeply([$out =~ /^applying (\S+)$/mg], \@files, '... applies every file in order');
    like($out, qr/^$nfiles applied, $nfiles total$/m, '... and says so');
    is(psql($s, 'SELECT string_agg(version, \',\' ORDER BY version) FROM schema_migrations'),
       join(',', @files), 'schema_migrations holds the file names without .sql (as migrate.sh did)');

    ($rc, $out, $err) = ctl($s, '', 'migrate', '--dir', "$root/sql");
    is($rc, 0, 'migrate again') or diag($err);
    unlike($out, qr/applying/, '... applies nothing');
    like($out, qr/^0 applied, $nfiles total$/m, '... 0 applied');
}

{
    # a broken migration is rolled back entirely, its version not recorded, and with it the
    # whole run
    my $dir = "$tmp/sql";
    mkdir $dir;
    system('cp', glob("$root/sql/[0-9][0-9][0-9]_*.sql"), $dir) == 0 or die;
    open my $f, '>', "$dir/998_good.sql" or die;
    print $f "CREATE TABLE chatctl_good (x int);\n";
    close $f;
    open $f, '>', "$dir/999_bad.sql" or die;
    print $f "CREATE TABLE chatctl_half (x int);\nSELECT no_such_function();\n";
    close $f;
    my ($rc, $out, $err) = ctl($s, '', 'migrate', '--dir', $dir);
    is($rc, 2, 'a failing migration exits 2');
    like($err, qr/999_bad: .*no_such_function/s, "... with the file and Postgres' message") or diag($err);
    like($out, qr/^applying 998_good$/m, '... after applying the good one before it');
    is(psql($s, "SELECT count(*) FROM schema_migrations WHERE version = '999_bad'"), 0, '... not recorded');
    is(psql($s, "SELECT to_regclass('chatctl_half') IS NULL"), 't', '... and rolled back');
    # one transaction for the whole run: the schema never moves on without the functions
    # written for it, so the good migration before the bad one is rolled back as well
    is(psql($s, "SELECT count(*) FROM schema_migrations WHERE version = '998_good'"), 0, 'the good one is rolled back with it');
    is(psql($s, "SELECT to_regclass('chatctl_good') IS NULL"), 't', '... its table too');
    unlink "$dir/999_bad.sql" or die;
    ($rc, $out, $err) = ctl($s, '', 'migrate', '--dir', $dir);
    is($rc, 0, 'without the bad one, migrate succeeds') or diag($err);
    like($out, qr/^applying 998_good$/m, '... applying the good one');
    is(psql($s, "SELECT count(*) FROM schema_migrations WHERE version = '998_good'"), 1, '... recorded');
}

{
    # two runs at once on an empty schema: each file applied exactly once
    my $s2 = fresh_schema();
    my $ci = "$base options='-c search_path=$s2'";
    my @h = map { spawn('', $chatctl, '--conninfo', $ci, 'migrate', '--dir', "$root/sql") } 1 .. 2;
    my @r = map { [finish($_)] } @h;
    is($r[0][0], 0, 'concurrent migrate #1 succeeds') or diag($r[0][2]);
    is($r[1][0], 0, 'concurrent migrate #2 succeeds') or diag($r[1][2]);
    my @applied = sort map { $_->[1] =~ /^applying (\S+)$/mg } @r;
    is_deeply(\@applied, \@files, 'together they applied each file exactly once');
    is(psql($s2, 'SELECT count(*) FROM schema_migrations'), $nfiles, 'schema_migrations is complete');
}

# --- agents ----------------------------------------------------------------------

sub agent_row {
    my ($out, $user) = @_;
    for my $line (split /\n/, $out) {
        my @c = split /\s{2,}/, $line;
        return \@c if $c[0] eq $user;
    }
    return undef;
}

{
    my ($rc, $out, $err) = ctl($s, "CorrectHorse1\n", 'agent', 'add', 'alice', '--name', 'Alice Ä Smith',
                               '--role', 'supervisor', '--max', '3');
    is($rc, 0, 'agent add') or diag($err);
    like($out, qr/added supervisor alice/, '... says what it added');

    my $hash = psql($s, "SELECT password_hash FROM agents WHERE username = 'alice'");
    like($hash, qr/^scrypt\$16384\$8\$5\$[A-Za-z0-9+\/]{22}==\$[A-Za-z0-9+\/]{43}=$/, '... stores a salted scrypt hash');
    unlike($hash, qr/CorrectHorse/, '... never the password');

    ($rc, $out, $err) = ctl($s, '', 'agent', 'list');
    is($rc, 0, 'agent list') or diag($err);
    like($out, qr/^USERNAME\s+DISPLAY NAME\s+ROLE\s+PRESENCE\s+MAX\s+ACTIVE\s+DELETED$/m, '... has a header');
    is_deeply(agent_row($out, 'alice'), ['alice', 'Alice Ä Smith', 'supervisor', 'offline', '3', '0', '-'],
              '... shows the new agent') or diag($out);

    ($rc, $out, $err) = ctl($s, "AnotherPass12\n", 'agent', 'add', 'bob');
    is($rc, 0, 'agent add with defaults') or diag($err);
    ($rc, $out) = ctl($s, '', 'agent', 'list');
    is_deeply(agent_row($out, 'bob'), ['bob', 'bob', 'agent', 'offline', '5', '0', '-'],
              '... role agent, max 5, display name = username');

    ($rc, $out, $err) = ctl($s, "CorrectHorse1\n", 'agent', 'add', 'ALICE', '--name', 'Other');
    is($rc, 3, 'a taken username (any case) exits 3');
    like($err, qr/already exists/, '... saying so');

    ($rc, $out, $err) = ctl($s, "short\n", 'agent', 'add', 'carol');
    is($rc, 1, 'a password under 10 characters exits 1');
    like($err, qr/at least 10 characters/, '... saying why');
    ($rc, $out, $err) = ctl($s, "", 'agent', 'add', 'carol');
    is($rc, 1, 'no password on stdin exits 1');
    ($rc, $out, $err) = ctl($s, "CorrectHorse1\n", 'agent', 'add', 'carol', '--role', 'boss');
    is($rc, 1, 'a bad role exits 1');
    ($rc, $out, $err) = ctl($s, "CorrectHorse1\n", 'agent', 'add', 'carol', '--max', 'many');
    is($rc, 1, 'a bad --max exits 1');
    ($rc, $out, $err) = ctl($s, "CorrectHorse1\n", 'agent', 'add', 'carol', 'extra');
    is($rc, 1, 'an extra operand exits 1');
    is(psql($s, "SELECT count(*) FROM agents WHERE username = 'carol'"), 0, 'none of those wrote anything');

    # passwd: new hash, token version bumped (every earlier token revoked)
    my $tv = psql($s, "SELECT token_version FROM agents WHERE username = 'alice'");
    ($rc, $out, $err) = ctl($s, "BatteryStaple9\n", 'agent', 'passwd', 'alice', '--password-stdin');
    is($rc, 0, 'agent passwd') or diag($err);
    my $hash2 = psql($s, "SELECT password_hash FROM agents WHERE username = 'alice'");
    isnt($hash2, $hash, '... changes the hash');
    like($hash2, qr/^scrypt\$16384\$8\$5\$/, '... to a scrypt hash');
    is(psql($s, "SELECT token_version FROM agents WHERE username = 'alice'"), $tv + 1, '... and revokes tokens');

    ($rc, $out, $err) = ctl($s, "BatteryStaple9\n", 'agent', 'passwd', 'nobody');
    is($rc, 3, 'passwd of an unknown agent exits 3');
    like($err, qr/no active agent nobody/, '... saying so');

    # disable: soft delete
    ($rc, $out, $err) = ctl($s, '', 'agent', 'disable', 'alice');
    is($rc, 0, 'agent disable') or diag($err);
    ($rc, $out) = ctl($s, '', 'agent', 'list');
    my $row = agent_row($out, 'alice');
    like($row->[6] // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, '... agent list shows when it was deleted');
    is(psql($s, "SELECT token_version FROM agents WHERE username = 'alice'"), $tv + 2, '... tokens revoked');
    ($rc, $out, $err) = ctl($s, '', 'agent', 'disable', 'alice');
    is($rc, 3, 'disabling again exits 3');
    ($rc, $out, $err) = ctl($s, "BatteryStaple9\n", 'agent', 'passwd', 'alice');
    is($rc, 3, 'passwd of a disabled agent exits 3');
    ($rc, $out, $err) = ctl($s, '', 'agent', 'disable', 'nobody');
    is($rc, 3, 'disabling an unknown agent exits 3');
}

# --- FAQ -------------------------------------------------------------------------

sub write_json {
    my ($name, $data) = @_;
    open my $f, '>', "$tmp/$name" or die $!;
    print $f $json->encode($data);
    close $f;
    return "$tmp/$name";
}

{
    my ($rc, $out, $err) = ctl($s, '', 'faq', 'export');
    is($rc, 0, 'faq export of an empty FAQ') or diag($err);
    is_deeply(decode_json($out), [], '... is []');

    my $entries = [
        { slug => 'b-shipping', question => 'How long does "shipping" take?',
          answer => "3–5 days.\nExpress: 1–2 <b>days</b> & more \\ ☃", keywords => ['ship', 'delivery'],
          display_order => 2, is_active => JSON::PP::true },
        { slug => 'a-returns', question => 'Returns?', answer => '30 days.', keywords => [],
          display_order => 2, is_active => JSON::PP::false },
        { slug => 'z-first', question => 'First?', answer => 'Yes.', keywords => ['first'],
          display_order => -5, is_active => JSON::PP::true },
    ];
    my $v0 = psql($s, 'SELECT version FROM chat_faq_version');
    ($rc, $out, $err) = ctl($s, '', 'faq', 'import', write_json('faq1.json', $entries));
    is($rc, 0, 'faq import') or diag($err);
    like($out, qr/3 added, 0 updated, 0 unchanged/, '... reports what it did');
    cmp_ok(psql($s, 'SELECT version FROM chat_faq_version'), '>', $v0, '... bumps the FAQ version (workers reload)');

    ($rc, my $export1, $err) = ctl($s, '', 'faq', 'export');
    is($rc, 0, 'faq export') or diag($err);
    my @sorted = sort { $a->{display_order} <=> $b->{display_order} || $a->{slug} cmp $b->{slug} } @$entries;
    is_deeply(decode_json($export1), \@sorted, '... gives back exactly what was imported, by display_order, slug');

    # export -> import -> export is the identity, and changes nothing
    open my $f, '>', "$tmp/export1.json" or die;
    print $f $export1;
    close $f;
    my $v1 = psql($s, 'SELECT version FROM chat_faq_version');
    ($rc, $out, $err) = ctl($s, '', 'faq', 'import', "$tmp/export1.json");
    is($rc, 0, 'importing the export') or diag($err);
    like($out, qr/0 added, 0 updated, 3 unchanged/, '... changes nothing');
    is(psql($s, 'SELECT version FROM chat_faq_version'), $v1, '... and does not bump the version');
    (undef, my $export2) = ctl($s, '', 'faq', 'export');
    is($export2, $export1, 'export after re-import is byte-identical');

    ($rc, my $compact) = ctl($s, '', 'faq', 'export', '--compact');
    is($rc, 0, 'faq export --compact');
    is(scalar(() = $compact =~ /\n/g), 1, '... is one line');
    is_deeply(decode_json($compact), decode_json($export1), '... with the same content');

    # a new slug, and a changed entry; stdin as the file
    my $more = [
        { slug => 'new-one', question => 'New?', answer => 'Brand new.', keywords => ['new'],
          display_order => 1 },
        { slug => 'a-returns', question => 'Returns?', answer => '60 days now.', keywords => ['return'],
          display_order => 2, is_active => JSON::PP::true },
    ];
    ($rc, $out, $err) = ctl($s, $json->encode($more), 'faq', 'import', '-');
    is($rc, 0, 'faq import - (stdin) with a new slug and a change') or diag($err);
    like($out, qr/1 added, 1 updated, 0 unchanged/, '... reports it');
    (undef, $out) = ctl($s, '', 'faq', 'export');
    my %by = map { $_->{slug} => $_ } @{ decode_json($out) };
    is_deeply($by{'new-one'}, { %{ $more->[0] }, is_active => JSON::PP::true },
              'the export contains the new slug (is_active defaults to true)');
    is($by{'a-returns'}{answer}, '60 days now.', '... and the updated answer');
    ok($by{'b-shipping'} && $by{'z-first'}, '... and keeps slugs the file did not mention');

    # --keep-existing adds missing slugs only
    my $keep = [
        { slug => 'a-returns', question => 'Returns?', answer => 'changed again', display_order => 2 },
        { slug => 'kept-new', question => 'Q?', answer => 'A.' },
    ];
    ($rc, $out, $err) = ctl($s, '', 'faq', 'import', '--keep-existing', write_json('keep.json', $keep));
    is($rc, 0, 'faq import --keep-existing') or diag($err);
    like($out, qr/1 added, 0 updated, 1 unchanged/, '... adds only the missing slug');
    is(psql($s, "SELECT answer FROM faq_entries WHERE slug = 'a-returns'"), '60 days now.',
       '... leaves the existing one alone');

    # bad files: nothing written
    my $count = psql($s, 'SELECT count(*) FROM faq_entries');
    my @bad = (
        ['not json',   '{"slug": ',                                                  qr/invalid JSON/],
        ['not array',  '{"slug": "x"}',                                              qr/expected a JSON array/],
        ['bad slug',   '[{"slug": "Bad Slug", "question": "q", "answer": "a"}]',     qr/slug must match/],
        ['no answer',  '[{"slug": "ok-1", "question": "q"}]',                        qr/answer must be/],
        ['unknown key','[{"slug": "ok-1", "question": "q", "answer": "a", "x": 1}]', qr/unknown field "x"/],
        ['dup slug',   '[{"slug": "d", "question": "q", "answer": "a"},{"slug": "d", "question": "q", "answer": "a"}]',
                       qr/appears twice/],
        ['bad order',  '[{"slug": "ok-1", "question": "q", "answer": "a"},{"slug": "ok-2", "question": "q", "answer": "a", "display_order": 1.5}]',
                       qr/display_order must be an integer/],
    );
    for my $b (@bad) {
        my ($name, $text, $re) = @$b;
        ($rc, $out, $err) = ctl($s, $text, 'faq', 'import', '-');
        is($rc, 1, "faq import of a bad file ($name) exits 1");
        like($err, $re, '... with a clear message') or diag($err);
    }
    is(psql($s, 'SELECT count(*) FROM faq_entries'), $count, 'bad files wrote nothing');

    ($rc, $out, $err) = ctl($s, '', 'faq', 'import', "$tmp/missing.json");
    is($rc, 1, 'faq import of a missing file exits 1');
    like($err, qr/cannot read .*missing\.json/, '... naming it');
}

done_testing;
