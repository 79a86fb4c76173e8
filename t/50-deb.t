# The Debian package (`make deb`): what it holds, the nginx ABI it depends on, and the README's
# "Install on a server" configuration (its two nginx blocks, exactly) serving a chat with the
# packaged module, widget and SQL, against the test Postgres and Redis.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use JSON::PP;
use Test::More;
use ChatTest;

my $ROOT = repo_root();

my $built = qx{'$ROOT/scripts/deb.sh' 2>&1};
is($?, 0, 'make deb (scripts/deb.sh) builds the package') or diag($built);
my ($deb) = $built =~ m{^(/\S+/libnginx-mod-http-chat_[^/\s]+_amd64\.deb)$}m;
ok($deb && -f $deb, 'it prints the path of libnginx-mod-http-chat_<version>_amd64.deb')
    or BAIL_OUT("no package: $built");

subtest 'the package holds the module, its load snippet, chatctl, the SQL, the widget and the docs' => sub {
    my %files = map { (split ' ', $_)[5] => 1 } split /\n/, qx{dpkg-deb -c '$deb'};
    for my $f (qw(./usr/lib/nginx/modules/ngx_http_chat_module.so
                  ./usr/share/nginx/modules-available/mod-http-chat.conf
                  ./usr/bin/chatctl
                  ./usr/share/nginx-chat/widget/widget.js
                  ./usr/share/nginx-chat/widget/agent/index.html
                  ./usr/share/nginx-chat/widget/agent/agent.js
                  ./usr/share/doc/libnginx-mod-http-chat/README.md.gz
                  ./usr/share/doc/libnginx-mod-http-chat/examples/nginx-chat.example.conf)) {
        ok($files{$f}, $f);
    }
    for my $sql (glob("$ROOT/sql/[0-9][0-9][0-9]_*.sql"), glob("$ROOT/sql/functions/*.sql")) {
        (my $rel = $sql) =~ s{^\Q$ROOT\E/sql/}{};
        ok($files{"./usr/share/nginx-chat/sql/$rel"}, "sql/$rel is packaged");
    }
    ok(!grep(m{/(?:var|build|node_modules|t)/}, keys %files), 'no build output, state or tests in it');
};

subtest 'it depends on the nginx ABI of the nginx it was built against' => sub {
    my $depends = qx{dpkg-deb -f '$deb' Depends};
    my ($abi) = qx{dpkg-query -W -f='\${Provides}' nginx} =~ /(nginx-abi-[\w.~+-]+)/;
    ok($abi, "the installed nginx provides $abi") or return;
    like($depends, qr/(?:^|,\s*)\Q$abi\E(?:,|$)/m, "Depends: $abi");
    like($depends, qr/libpq5/, 'and on libpq5 (dh_shlibdeps)');
    like($depends, qr/libc-ares2/, 'and on libc-ares2 (the webhook resolver, dh_shlibdeps)');
    is(qx{dpkg-deb -f '$deb' Package}, "libnginx-mod-http-chat\n", 'named like Debian\'s nginx modules');
};

my $dir = var_dir() . '/t/50-deb';
remove_tree($dir);
make_path("$dir/root", "$dir/tmp");
chmod 0755, var_dir(), var_dir() . '/t', $dir, "$dir/root", "$dir/tmp";
system('dpkg-deb', '-x', $deb, "$dir/root") == 0 or BAIL_OUT('dpkg-deb -x failed');
my $x = "$dir/root";

subtest 'modules-available loads the module from nginx\'s module directory' => sub {
    open my $fh, '<', "$x/usr/share/nginx/modules-available/mod-http-chat.conf" or return fail('no snippet');
    is(do { local $/; <$fh> }, "load_module modules/ngx_http_chat_module.so;\n", 'load_module line');
};

# The two nginx blocks of README "Install on a server", with only the addresses and paths
# of this machine's test stack put in.
open my $rfh, '<', "$ROOT/README.md" or die $!;
my ($install) = do { local $/; <$rfh> } =~ /^## Install on a server\n(.*?)^## /ms;
ok($install, 'README has "Install on a server"') or BAIL_OUT('no section');
my @blocks = $install =~ /^```nginx\n(.*?)^```/msg;
is(scalar @blocks, 2, 'two nginx blocks: http-level and server-level');
my @directives = join('', @blocks) =~ /\b(chat_[a-z_]+)\b/g;
cmp_ok(scalar @directives, '<=', 6, "at most 6 chat_* lines (@directives)");
like($install, qr/^apt-get install \.\/libnginx-mod-http-chat_/m, 'it installs the package with apt-get');
like($install, qr/^chatctl migrate/m, 'then chatctl migrate');

my $pg = sprintf('host=127.0.0.1 port=%d dbname=chat user=chat password=chat', $ENV{CHAT_PG_PORT} || 55432);
my ($http, $server) = @blocks;
$http =~ s/"host=[^"]*"/"$pg"/ or fail('chat_postgres conninfo in the README block');
$http =~ s/127\.0\.0\.1:6379/'127.0.0.1:' . ($ENV{CHAT_REDIS_PORT} || 56379)/e or fail('chat_redis in the README block');
$http =~ s{/etc/nginx/chat\.secret}{var_dir() . '/chat.secret'}e or fail('chat_secret in the README block');
$server =~ s{/usr/share/nginx-chat/widget/}{$x/usr/share/nginx-chat/widget/} or fail('widget alias in the README block');

my $port = free_port();
open my $cfh, '>', "$dir/nginx.conf" or die $!;
print $cfh <<"CONF";
load_module $x/usr/lib/nginx/modules/ngx_http_chat_module.so;
worker_processes 2;
error_log $dir/error.log info;
pid $dir/nginx.pid;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    access_log $dir/access.log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
$http
    server {
        listen 127.0.0.1:$port;
$server
    }
}
CONF
close $cfh;

my ($ok, $out) = nginx_test("$dir/nginx.conf", $dir);
ok($ok, 'nginx -t passes with the packaged module and the README\'s config') or diag($out);

system(nginx_bin(), '-p', "$dir/", '-c', "$dir/nginx.conf") == 0 or BAIL_OUT('nginx did not start');
END { system(nginx_bin(), '-p', "$dir/", '-c', "$dir/nginx.conf", '-s', 'stop') if $dir && -f "$dir/nginx.pid" }

my $ua = HTTP::Tiny->new(timeout => 10);
my $base = "http://127.0.0.1:$port";
ok(wait_until(sub { $ua->get("$base/chat/api/v1/health/db")->{status} == 200 }, 10),
   'the packaged module reaches Postgres (GET /health/db 200)');

subtest 'a customer chats with the bot through the packaged module' => sub {
    my $r = $ua->post("$base/chat/api/v1/session",
        { headers => { 'content-type' => 'application/json' }, content => '{}' });
    is($r->{status}, 200, 'POST /session 200') or return diag($r->{content});
    my $s = decode_json($r->{content});
    my $m = $ua->post("$base/chat/api/v1/messages",
        { headers => { 'content-type' => 'application/json', authorization => "Bearer $s->{token}" },
          content => encode_json({ text => 'How long does shipping take?',
                                   client_id => '00000000-0000-4000-8000-' . sprintf('%012d', $$) }) });
    is($m->{status}, 201, 'POST /messages 201') or return diag($m->{content});
    my @bot = grep { $_->{sender_type} eq 'bot' } @{ decode_json($m->{content})->{messages} };
    like($bot[0]{content} // '', qr/business days/, 'the FAQ bot answers');
};

subtest 'the packaged widget and dashboard are served by the README\'s location' => sub {
    my $w = $ua->get("$base/chat/widget.js");
    is($w->{status}, 200, 'GET /chat/widget.js 200');
    like($w->{headers}{'content-type'} // '', qr{javascript}, 'as JavaScript');
    my $d = $ua->get("$base/chat/agent/");
    is($d->{status}, 200, 'GET /chat/agent/ 200 (the dashboard)');
    like($d->{content}, qr/<html/i, 'an HTML page');
};

subtest 'the packaged chatctl migrates from the packaged SQL by default' => sub {
    my $help = qx{'$x/usr/bin/chatctl' --help 2>&1};
    like($help, qr{default DIR: /usr/share/nginx-chat/sql\)}, '--help names /usr/share/nginx-chat/sql');
    my $m = qx{'$x/usr/bin/chatctl' --conninfo '$pg' migrate --dir '$x/usr/share/nginx-chat/sql' 2>&1};
    is($?, 0, 'chatctl migrate on the packaged SQL succeeds') or diag($m);
    like($m, qr/^0 applied/m, 'nothing new to apply: the packaged schema is the repo\'s') or diag($m);
    unlike($m, qr/: applied/, 'every function file unchanged') or diag($m);
};

open my $efh, '<', "$dir/error.log";
my @bad = grep { /\[(?:alert|emerg|crit)\]/ } <$efh>;
is_deeply(\@bad, [], 'no alert, emerg or crit in error.log');

done_testing;
