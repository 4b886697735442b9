using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace Courier.Tests.Packaging;

/// <summary>
/// examples/Inventory built and run as its README says: a `courier broker`, the worker service and the web API as
/// three processes on loopback, and the API called over HTTP.
/// </summary>
public sealed partial class InventoryExampleTests : IDisposable
{
    private readonly List<Process> _processes = [];

    [Fact]
    public async Task Web_api_answers_stock_over_http_from_the_worker_through_the_broker_and_the_worker_stops_gracefully()
    {
        var root = Dotnet.RepoRoot;
        foreach (var project in new[] { "src/Courier.Cli", "examples/Inventory/Inventory.Worker", "examples/Inventory/Inventory.Api" })
        {
            await Dotnet.RunAsync(root, TimeSpan.FromMinutes(10), "dotnet", "build", project);
        }

        var broker = StartProgram("src/Courier.Cli", "Courier.Cli.dll", ["broker", "--bind", "tcp://127.0.0.1:*"], []);
        var endpoint = (await ReadUntilAsync(broker, BrokerListening())).Groups[1].Value;
        var worker = StartProgram("examples/Inventory/Inventory.Worker", "Inventory.Worker.dll", [],
            new() { ["Courier__Worker__BrokerEndpoint"] = endpoint, ["Courier__Worker__Name"] = "inventory-test" });
        _ = worker.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        _ = worker.StandardError.BaseStream.CopyToAsync(Stream.Null);
        var api = StartProgram("examples/Inventory/Inventory.Api", "Inventory.Api.dll", ["--urls", "http://127.0.0.1:0"],
            new() { ["Courier__Client__Endpoints__0"] = endpoint });
        var url = (await ReadUntilAsync(api, ApiListening())).Groups[1].Value;
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };

        // The worker registers in the background: until it has, the broker answers the API 404 (no such service).
        HttpResponseMessage? apple = null;
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(1))
        {
            apple = await http.GetAsync(new Uri("/stock/apple", UriKind.Relative));
            if (apple.StatusCode == HttpStatusCode.OK)
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.Equal(HttpStatusCode.OK, apple!.StatusCode);
        Assert.Equal("""{"sku":"apple","available":120,"warehouse":"north"}""", await apple.Content.ReadAsStringAsync());
        var pear = await http.GetAsync(new Uri("/stock/pear", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, pear.StatusCode);
        Assert.Contains("no item 'pear'", await pear.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("Healthy", await http.GetStringAsync(new Uri("/healthz", UriKind.Relative)));

        // SIGTERM, as `docker stop` sends: the host drains the worker and exits cleanly.
        using (var kill = Process.Start("kill", ["-TERM", worker.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await worker.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(0, worker.ExitCode);
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }

            process.Dispose();
        }
    }

    private Process StartProgram(string project, string dll, string[] args, Dictionary<string, string> environment)
    {
        var bin = Path.Combine(Dotnet.RepoRoot, project, "bin", "Debug", "net10.0");
        environment["DOTNET_ENVIRONMENT"] = "Production";
        var process = Dotnet.Start(bin, "dotnet", [Path.Combine(bin, dll), .. args], environment);
        _processes.Add(process);
        return process;
    }

    private static async Task<Match> ReadUntilAsync(Process process, Regex pattern)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var seen = new List<string>();
        while (await process.StandardOutput.ReadLineAsync(cancel.Token) is { } line)
        {
            seen.Add(line);
            if (pattern.Match(line) is { Success: true } match)
            {
                // Keep reading, so a chatty process never blocks on a full pipe.
                _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
                _ = process.StandardError.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
                return match;
            }
        }

        throw new InvalidOperationException($"the process ended before printing {pattern}:\n{string.Join('\n', seen)}\n{await process.StandardError.ReadToEndAsync()}");
    }

    [GeneratedRegex(@"listening on (tcp://\S+)")]
    private static partial Regex BrokerListening();

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ApiListening();
}
