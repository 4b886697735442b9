using System.Diagnostics;
using Courier.Client;
using Courier.Tests.Infrastructure;
using Courier.Transport;

namespace Courier.Tests.Deploy;

/// <summary>The original design's topology, for real: `courier server` processes behind Debian's nginx (TCP stream).</summary>
public sealed class NginxStackTests
{
    [SkippableFact]
    public async Task Fresh_connections_through_nginx_reach_every_server()
    {
        LocalStackProcess.SkipUnlessNginx();
        await using var stack = await LocalStackProcess.UpAsync(servers: 3);

        var seen = new HashSet<string>();
        for (var i = 0; i < 60 && seen.Count < 3; i++)
        {
            await using var client = TestServer.Client(stack.Endpoint);
            seen.Add((await client.RequestAsync("whoami", "")).BodyText);
        }

        Assert.Equal(["server-1", "server-2", "server-3"], seen.Order());
    }

    [SkippableFact]
    public async Task Pipelined_load_through_nginx_loses_nothing_while_a_server_is_killed_and_a_server_added_back_takes_connections()
    {
        LocalStackProcess.SkipUnlessNginx();
        await using var stack = await LocalStackProcess.UpAsync(servers: 3);
        var clients = Enumerable.Range(0, 6)
            .Select(_ => TestServer.Client(stack.Endpoint, o => o with { Timeout = TimeSpan.FromSeconds(1), Retries = 8 }))
            .ToArray();
        long ok = 0;
        var failures = new List<Exception>();
        using var stop = new CancellationTokenSource();
        var loops = clients.SelectMany(c => Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await c.RequestAsync("echo", "payload", Load.Idempotent);
                    Interlocked.Increment(ref ok);
                }
                catch (CourierException ex)
                {
                    lock (failures)
                    {
                        failures.Add(ex);
                    }
                }
            }
        }))).ToArray();

        await Poll.UntilAsync(() => Interlocked.Read(ref ok) > 2000, what: "load flowing through nginx");
        var victim = stack.Servers[0];
        Process.GetProcessById(victim.Pid).Kill(); // SIGKILL
        // The revived server binds the same port: held from now on so that nothing else takes it meanwhile.
        using var port = await PortReservation.RetakeAsync(victim.Endpoint);
        var atKill = Interlocked.Read(ref ok);
        await Poll.UntilAsync(() => Interlocked.Read(ref ok) > atKill + 5000, TimeSpan.FromSeconds(60), "load continues after the kill");

        // The killed server comes back on its endpoint; nginx's passive check lets new connections reach it again.
        var (revived, _) = await ChildProcess.StartServerAsync("--bind", victim.Endpoint, "--name", "revived");
        await using var _ = revived;
        port.Dispose();
        await Poll.UntilAsync(
            async () =>
            {
                await using var fresh = TestServer.Client(stack.Endpoint);
                return (await fresh.RequestAsync("whoami", "")).BodyText == "revived";
            },
            TimeSpan.FromSeconds(60),
            "a fresh connection reaches the revived server");

        await stop.CancelAsync();
        await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(60));
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        Assert.Empty(failures);
        Assert.True(ok > atKill);
    }

    [SkippableFact]
    public async Task Idle_connection_kept_alive_by_ZMTP_heartbeats_outlives_a_short_proxy_timeout()
    {
        LocalStackProcess.SkipUnlessNginx();
        await using var stack = await LocalStackProcess.UpAsync(servers: 3, proxyTimeout: "1s");
        var beating = TransportOptions.Default with { HeartbeatInterval = TimeSpan.FromMilliseconds(250), HeartbeatTimeout = TimeSpan.FromSeconds(5) };
        await using var client = TestServer.Client(stack.Endpoint, o => o with { Transport = beating, Retries = 0 });

        var before = (await client.RequestAsync("whoami", "")).BodyText;
        await Task.Delay(TimeSpan.FromSeconds(3)); // what is tested: three proxy timeouts of idleness, but for heartbeats

        // Retries = 0 and the same server: the very connection survived.
        Assert.Equal(before, (await client.RequestAsync("whoami", "")).BodyText);
    }

    [SkippableFact]
    public async Task Connection_cut_by_the_proxy_timeout_costs_the_next_request_nothing()
    {
        LocalStackProcess.SkipUnlessNginx();
        await using var stack = await LocalStackProcess.UpAsync(servers: 2, proxyTimeout: "1s");
        var quiet = TransportOptions.Default with { HeartbeatInterval = TimeSpan.FromSeconds(30), HeartbeatTimeout = TimeSpan.FromSeconds(60) };
        await using var client = TestServer.Client(stack.Endpoint, o => o with { Transport = quiet, Timeout = TimeSpan.FromSeconds(1), Retries = 3 });

        Assert.Equal("x", (await client.RequestAsync("echo", "x")).BodyText);
        await Task.Delay(TimeSpan.FromSeconds(3)); // what is tested: idle long enough that nginx closes the connection (after 1 s)

        Assert.Equal("y", (await client.RequestAsync("echo", "y")).BodyText);
    }

    [SkippableFact]
    public async Task Down_stops_every_process_up_started()
    {
        LocalStackProcess.SkipUnlessNginx();
        var stack = await LocalStackProcess.UpAsync(servers: 2);
        var pids = stack.Servers.Select(s => s.Pid).Append(stack.NginxPid).ToArray();
        Assert.All(pids, pid => Assert.True(LocalStackProcess.IsAlive(pid), $"pid {pid} should run while up"));

        var (exit, _, stderr) = await stack.DownAsync();

        Assert.True(exit == 0, stderr);
        await Poll.UntilAsync(() => pids.All(pid => !LocalStackProcess.IsAlive(pid)), TimeSpan.FromSeconds(20), "all stack processes gone");
        Assert.False(File.Exists(Path.Combine(stack.StateDir, "nginx.pid")));
        await stack.DisposeAsync();
    }

    [SkippableFact]
    public async Task Down_leaves_alone_a_process_the_pids_file_names_that_up_did_not_start()
    {
        LocalStackProcess.SkipUnlessNginx();
        var stack = await LocalStackProcess.UpAsync(servers: 1);
        // A stale or tampered pids file: the number may now belong to any process of the user.
        using var stranger = System.Diagnostics.Process.Start("sleep", "300");
        try
        {
            await File.AppendAllTextAsync(Path.Combine(stack.StateDir, "pids"), $"server {stranger.Id}\n");

            var (exit, _, stderr) = await stack.DownAsync();

            Assert.True(exit == 0, stderr);
            await Poll.UntilAsync(
                () => !LocalStackProcess.IsAlive(stack.Servers[0].Pid) && !LocalStackProcess.IsAlive(stack.NginxPid), TimeSpan.FromSeconds(20), "the stack's own processes gone");
            Assert.True(LocalStackProcess.IsAlive(stranger.Id), "down signalled a process that up did not start");
            Assert.Contains($"server {stranger.Id} is gone or not ours", stderr, StringComparison.Ordinal);
        }
        finally
        {
            stranger.Kill();
            await stack.DisposeAsync();
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Up_refuses_a_state_directory_that_other_users_can_write()
    {
        // Such as the default /tmp/courier-local-stack made first by another user, with a key of theirs in keys/allow.
        var state = Directory.CreateTempSubdirectory("courier-stack-").FullName;
        try
        {
            File.SetUnixFileMode(state, (UnixFileMode)0b111_111_111);

            var (exit, _, stderr) = await LocalStackProcess.RunAsync(state, "up", "--servers", "1", "--port", "0", "--secure");

            Assert.NotEqual(0, exit);
            Assert.Contains("writable by others", stderr, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(state, "pids")));
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [SkippableFact]
    public async Task Connections_from_one_address_past_nginxs_limit_are_closed_at_once_and_other_clients_are_served()
    {
        // 1,100 silent connections from 127.0.0.2: nginx takes 1,024 (each also a connection to a server, which its
        // handshake timeout, 10 s, ends later) and closes the rest at once. A canary from 127.0.0.1 sees no error.
        // On a loaded machine a burst of connects can overflow a server's accept queue, and nginx then closes the client
        // connections it could not pass on (after proxy_connect_timeout), which frees places under the limit: so the
        // attacker keeps opening connections until nginx says it refused one, as an attacker would (at most 3,000).
        const int attackers = 1100, most = 3000, limit = 1024;
        const string refused = "limiting connections by zone \"courier_per_address\"";
        LocalStackProcess.SkipUnlessNginx();
        await using var stack = await LocalStackProcess.UpAsync(servers: 2);
        await using var canary = await Canary.StartAsync(stack.Endpoint);
        var port = Ports.Of(stack.Endpoint);
        var errorLog = Path.Combine(stack.StateDir, "logs", "nginx-error.log");
        var sockets = new List<System.Net.Sockets.Socket>();
        var closed = new List<Task>();
        try
        {
            async Task OpenAsync(int count)
            {
                for (var i = 0; i < count; i++)
                {
                    var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                    sockets.Add(socket);
                    socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Parse("127.0.0.2"), 0));
                    await socket.ConnectAsync(System.Net.IPAddress.Loopback, port);
                    closed.Add(ClosedAsync(socket));
                }
            }

            await OpenAsync(attackers);
            await Poll.UntilAsync(
                async () =>
                {
                    if ((await File.ReadAllTextAsync(errorLog)).Contains(refused, StringComparison.Ordinal))
                    {
                        return true;
                    }

                    if (sockets.Count < most)
                    {
                        await OpenAsync(50);
                    }

                    return false;
                },
                TimeSpan.FromSeconds(30),
                $"nginx refusing a connection past its limit of {limit} from one address");

            // Every connection past the limit is closed: of those open, at most the limit are still held.
            await Poll.UntilAsync(() => closed.Count(t => t.IsCompleted) >= sockets.Count - limit, TimeSpan.FromSeconds(30), $"all but {limit} of {sockets.Count} connections closed");
            await canary.AssertUnharmedAsync();
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }

        static async Task ClosedAsync(System.Net.Sockets.Socket socket)
        {
            var buffer = new byte[256];
            try
            {
                while (await socket.ReceiveAsync(buffer) > 0)
                {
                }
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                // Reset, or disposed at the end of the test.
            }
        }
    }

    [SkippableFact]
    public async Task Rendered_nginx_config_passes_nginx_t()
    {
        LocalStackProcess.SkipUnlessNginx();
        await using var stack = await LocalStackProcess.UpAsync(servers: 1);

        using var nginx = Process.Start(new ProcessStartInfo("/usr/sbin/nginx", ["-t", "-p", stack.StateDir, "-c", Path.Combine(stack.StateDir, "nginx.conf")])
        {
            RedirectStandardError = true,
        })!;
        var output = await nginx.StandardError.ReadToEndAsync();
        await nginx.WaitForExitAsync();

        Assert.True(nginx.ExitCode == 0, output);
        Assert.Contains("test is successful", output, StringComparison.Ordinal);
        var rendered = await File.ReadAllTextAsync(Path.Combine(stack.StateDir, "courier-stream.conf"));
        Assert.DoesNotContain("${", rendered, StringComparison.Ordinal);
        Assert.Contains(stack.Servers[0].Endpoint["tcp://".Length..], rendered, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Compose_file_is_valid()
    {
        var available = File.Exists("/usr/bin/docker-compose");
        if (!available && Repo.IsCi)
        {
            Assert.Fail("docker-compose is required in CI; .ci/run installs it.");
        }

        Skip.IfNot(available, "docker-compose is missing: apt-get install docker-compose");
        using var compose = Process.Start(new ProcessStartInfo("/usr/bin/docker-compose", ["-f", Path.Combine(Repo.Root, "deploy", "docker-compose.yml"), "--profile", "broker", "config"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = compose.StandardOutput.ReadToEnd();
        var stderr = compose.StandardError.ReadToEnd();
        compose.WaitForExit();

        Assert.True(compose.ExitCode == 0, stderr);
        foreach (var service in new[] { "server:", "nginx:", "client:", "broker:", "worker:" })
        {
            Assert.Contains(service, stdout, StringComparison.Ordinal);
        }
    }
}
