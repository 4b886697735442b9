using Courier.Client;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Deploy;

/// <summary>A graceful stop costs callers nothing: its 503s are retried elsewhere, what it holds is answered.</summary>
public sealed class RollingRestartTests
{
    [SkippableFact]
    public async Task Rolling_restart_of_three_servers_behind_nginx_under_pipelined_load_costs_callers_nothing()
    {
        LocalStackProcess.SkipUnlessNginx();
        await using var stack = await LocalStackProcess.UpAsync(servers: 3);
        await using var load = Load.Start(Enumerable.Range(0, 6).Select(_ => TestServer.Client(stack.Endpoint, o => o with { Timeout = TimeSpan.FromSeconds(2), Retries = 3 })));
        await load.UntilServedAsync(2000);

        var restarted = new List<ChildProcess>();
        try
        {
            for (var i = 0; i < stack.Servers.Count; i++)
            {
                var (pid, endpoint) = stack.Servers[i];
                using (var term = System.Diagnostics.Process.Start("kill", ["-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                {
                    await term!.WaitForExitAsync();
                }

                await Poll.UntilAsync(() => !LocalStackProcess.IsAlive(pid), TimeSpan.FromSeconds(60), $"server {i + 1} stopped");
                using var port = await PortReservation.RetakeAsync(endpoint);
                port.Dispose();
                var (again, _) = await ChildProcess.StartServerAsync("--bind", endpoint, "--name", $"restarted-{i + 1}");
                restarted.Add(again);
                await load.UntilServedAsync(load.Served + 2000);
            }

            var failures = await load.StopAsync();
            Assert.Empty(failures);
        }
        finally
        {
            foreach (var process in restarted)
            {
                await process.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task SIGTERM_of_one_of_three_direct_endpoints_under_pipelined_load_costs_callers_nothing()
    {
        var servers = new List<(ChildProcess Process, string Endpoint)>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                servers.Add(await ChildProcess.StartServerAsync("--bind", "tcp://127.0.0.1:*", "--name", $"s{i + 1}"));
            }

            string[] endpoints = [.. servers.Select(s => s.Endpoint)];
            await using var load = Load.Start(Enumerable.Range(0, 4).Select(_ => TestServer.Client(endpoints[0], o => o with { Endpoints = endpoints, Timeout = TimeSpan.FromSeconds(2), Retries = 3 })));
            await load.UntilServedAsync(2000);

            servers[0].Process.Signal("TERM");
            Assert.Equal(0, await servers[0].Process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            await load.UntilServedAsync(load.Served + 3000);

            var failures = await load.StopAsync();
            Assert.Empty(failures);
        }
        finally
        {
            foreach (var (process, _) in servers)
            {
                await process.DisposeAsync();
            }
        }
    }
}
