using System.Diagnostics;
using System.Text.RegularExpressions;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Cli;

/// <summary><c>courier top</c> as a person sees it: in a real terminal (tmux), against a real broker under load.</summary>
public sealed partial class TopCommandTests
{
    private const string Tmux = "/usr/bin/tmux";

    [SkippableFact]
    public async Task Top_shows_the_services_and_a_count_that_moves_under_load()
    {
        if (!File.Exists(Tmux) && Repo.IsCi)
        {
            Assert.Fail("tmux is required in CI; setup.sh installs it.");
        }

        Skip.IfNot(File.Exists(Tmux), "tmux is missing: apt-get install tmux");
        var service = $"top{Guid.NewGuid():N}"[..14];
        var session = $"courier-top-{Guid.NewGuid():N}"[..24];
        var (broker, endpoint) = await ChildProcess.StartBrokerAsync("--bind", "tcp://127.0.0.1:*");
        await using var brokerProcess = broker;
        await using var worker = ChildProcess.Start("worker", "--connect", endpoint, "--service", service, "--name", "top-worker");
        await using var client = TestServer.Client(endpoint);
        await TestBroker.WaitForWorkersAsync(client, service, 1);
        using var stopLoad = new CancellationTokenSource();
        var load = Task.Run(async () =>
        {
            while (!stopLoad.IsCancellationRequested)
            {
                await client.RequestAsync(service, "load");
            }
        });

        var command = $"dotnet {ChildProcess.CliDll} top --connect {endpoint} --interval 300ms --transport {Courier.Transport.Internal.TransportResolver.AutoMeans}";
        await RunAsync("new-session", "-d", "-s", session, "-x", "120", "-y", "40", command);
        try
        {
            long first = 0;
            await Poll.UntilAsync(async () => (first = Served(await CaptureAsync(session), service)) > 0, TimeSpan.FromSeconds(60), "the service's row with a count");
            await Poll.UntilAsync(async () => Served(await CaptureAsync(session), service) > first, TimeSpan.FromSeconds(60), "the count moves");
            var screen = await CaptureAsync(session);
            Assert.Contains("SERVICE", screen, StringComparison.Ordinal);
            Assert.Contains("top-worker", screen, StringComparison.Ordinal);
            Assert.DoesNotContain("\u001b", screen, StringComparison.Ordinal); // what a person sees: escapes were interpreted
        }
        finally
        {
            await RunAsync("kill-session", "-t", session);
            await stopLoad.CancelAsync();
            await load.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    [Fact]
    public async Task Top_with_iterations_exits_3_when_nothing_answers()
    {
        var (exit, _, stderr) = await ChildProcess.RunAsync(
            TimeSpan.FromSeconds(60), "top", "--connect", "tcp://127.0.0.1:1", "--iterations", "1");

        Assert.True(exit == 3, $"exit {exit}: {stderr}");
        Assert.StartsWith("courier: error:", stderr.Trim(), StringComparison.Ordinal);
    }

    /// <summary>The SERVED column of <paramref name="service"/>'s row; 0 when the row is not on screen yet.</summary>
    private static long Served(string screen, string service)
    {
        var row = screen.Split('\n').FirstOrDefault(l => l.StartsWith(service, StringComparison.Ordinal));
        var columns = row is null ? [] : Spaces().Split(row.Trim());
        return columns.Length > 4 && long.TryParse(columns[4], out var served) ? served : 0;
    }

    private static async Task<string> CaptureAsync(string session) => await RunAsync("capture-pane", "-p", "-t", session);

    private static async Task<string> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo(Tmux) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
