using Courier.Tests.Containers.Infrastructure;
using Xunit.Abstractions;

namespace Courier.Tests.Containers;

/// <summary>
/// The compose file's default stack on real containers: three `courier server`s behind the nginx container, and the
/// client container. Each test brings the stack to that state first (compose up is idempotent) and leaves it there.
/// </summary>
[Collection(ContainerTestsDefinition.Name)]
public sealed partial class ServerStackTests(ComposeFixture stack, ITestOutputHelper output)
{
    private static readonly TimeSpan Minutes = TimeSpan.FromMinutes(3);

    [SkippableFact]
    public async Task Three_server_replicas_answer_through_the_nginx_container_on_the_native_transport()
    {
        await UpAsync();

        // Each `courier request` is a fresh connection, which nginx (least_conn) hands to some replica.
        var first = (await stack.ComposeOkAsync(Minutes, Commands.NoTerminal(Commands.Whoami))).Trim();
        // The same request again in one container (a container each would take long), until three replicas have
        // answered or 30 requests went; --transport Native fails unless the image's libzmq loads.
        var whoami = await stack.ComposeOkAsync(
            Minutes, "run", "--rm", "-T", "--entrypoint", "sh", "client", "-c",
            "seen=''; for i in $(seq 30); do id=$(courier " + string.Join(' ', Commands.Whoami[3..]) + " --transport Native) || exit 1; "
            + "echo \"$id\"; case \" $seen \" in *\" $id \"*) ;; *) seen=\"$seen $id\" ;; esac; [ $(echo $seen | wc -w) -ge 3 ] && break; done");
        var ids = whoami.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        Assert.Contains(first, ids);

        output.WriteLine($"replicas seen: {string.Join(", ", ids)}");
        output.WriteLine($"image courier:latest: {stack.ImageBytes / 1e6:F1} MB");
        Assert.Equal(3, ids.Count);
    }

    [SkippableFact]
    public async Task The_client_container_bench_through_nginx_exits_0_with_no_error()
    {
        await UpAsync();

        var bench = await BenchAsync("10s");

        output.WriteLine($"bench through the nginx container: {bench}");
        Assert.True(bench.Requests > 0, bench.ToString());
        Assert.Equal(0, bench.Errors);
    }

    [SkippableFact]
    public async Task A_server_container_killed_under_load_costs_the_client_no_error()
    {
        await UpAsync();

        var bench = BenchAsync("20s");
        var victim = (await stack.ContainersAsync("server"))[0];
        await UnderLoadAsync();
        await stack.EngineOkAsync(Minutes, "kill", "--signal", "KILL", victim);
        var result = await bench;

        output.WriteLine($"bench with server {victim[..12]} killed: {result}");
        Assert.True(result.Requests > 0, result.ToString());
        Assert.Equal(0, result.Errors);
        // A container killed through the engine counts as stopped by hand: its restart policy leaves it down.
        await stack.EngineOkAsync(Minutes, "start", victim);
        await RestoreAsync();
    }

    /// <remarks>
    /// Pending issue #14: a draining server answers 503 ("server is shutting down") to what reaches it during its
    /// drain, and the client does not yet retry a 503 elsewhere, so a graceful stop under load costs some requests a
    /// 503 (0 to about a thousand here, by timing; a SIGKILL costs none). What holds today, and is asserted: those
    /// 503s are the only errors, with no timeout and no other status. Once #14 lands, assert 0 errors.
    /// </remarks>
    [SkippableFact]
    public async Task A_server_container_stopped_gracefully_under_load_costs_the_client_nothing_but_its_drains_503s()
    {
        await UpAsync();

        var bench = BenchAsync("20s");
        var victim = (await stack.ContainersAsync("server"))[0];
        await UnderLoadAsync();
        // SIGTERM: the server refuses new work and drains what it has, within the compose file's grace period.
        await stack.EngineOkAsync(Minutes, "stop", "--time", "15", victim);
        var result = await bench;

        output.WriteLine($"bench with server {victim[..12]} stopped gracefully: {result} (pending #14: 503s not retried)");
        Assert.True(result.Requests > 0, result.ToString());
        if (result.Errors > 0)
        {
            Assert.Matches(OnlyDrain503s(), result.ErrorsLine);
        }

        await stack.EngineOkAsync(Minutes, "start", victim);
        await RestoreAsync();
    }

    [SkippableFact]
    public async Task Every_container_runs_as_a_non_root_user_and_turns_healthy()
    {
        await UpAsync();

        foreach (var service in new[] { "server", "nginx" })
        {
            foreach (var id in await stack.ContainersAsync(service))
            {
                var uid = await ProcessUidAsync(stack, id);
                output.WriteLine($"{service} {id[..12]}: uid {uid}");
                Assert.NotEqual(0, uid);
            }
        }

        var client = await stack.ComposeOkAsync(Minutes, "run", "--rm", "-T", "--entrypoint", "id", "client", "-u");
        Assert.NotEqual("0", client.Trim());
    }

    /// <summary>The real uid of the container's first process (for nginx, its master process).</summary>
    internal static async Task<int> ProcessUidAsync(ComposeFixture stack, string id)
    {
        var status = await stack.EngineOkAsync(Minutes, "exec", id, "cat", "/proc/1/status");
        var uidLine = status.Split('\n').Single(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        return int.Parse(uidLine.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task UpAsync()
    {
        stack.RequireEngine();
        await stack.ComposeOkAsync(Minutes, Commands.UpServers);
        await stack.WaitHealthyAsync("server", 3);
        await stack.WaitHealthyAsync("nginx", 1);
    }

    /// <summary>Back to three healthy replicas; nginx restarted, since it resolved `server` once, at its start.</summary>
    private async Task RestoreAsync()
    {
        await stack.WaitHealthyAsync("server", 3);
        await stack.ComposeOkAsync(Minutes, "restart", "nginx");
        await stack.WaitHealthyAsync("nginx", 1);
    }

    /// <summary>The README's bench through nginx: 4 connections x 50 in flight.</summary>
    private async Task<BenchResult> BenchAsync(string duration)
    {
        var result = await stack.ComposeAsync(Minutes, Commands.NoTerminal(Commands.WithDuration(Commands.Bench, duration)));
        Assert.True(result.ExitCode == 0, $"the bench exited {result.ExitCode}:\n{result.Output}");
        return BenchResult.Parse(result.Stdout);
    }

    /// <summary>Waits for the bench's container to run, then lets the load build up before the fault.</summary>
    private async Task UnderLoadAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while ((await stack.ContainersAsync("client")).Length == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the bench's container did not start");
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }

        // Not a wait for a condition: it places the fault inside the load rather than at its very start.
        await Task.Delay(TimeSpan.FromSeconds(4));
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^errors: [\d,]+ answered 503 \(""server is shutting down""\)$")]
    private static partial System.Text.RegularExpressions.Regex OnlyDrain503s();
}
