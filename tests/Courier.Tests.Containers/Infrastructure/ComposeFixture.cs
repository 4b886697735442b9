using System.Diagnostics;
using System.Text;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Containers.Infrastructure;

/// <summary>
/// The container engine and the images, through deploy/test/stack.sh: <c>start</c> once for every test of the
/// collection (a Docker engine if one answers, podman otherwise; the stand-in images; deploy/Dockerfile built), and
/// <c>stop</c> at the end, which takes down whatever the tests left up, the engine's socket and the health-check loop.
/// Once started, the two stories (<see cref="ComposeStory"/> and <see cref="KubeStory"/>, side by side until the
/// compose benches) run in the background; each test awaits the one it checks.
/// </summary>
public sealed class ComposeFixture : IAsyncLifetime
{
    private static readonly string Script = Path.Combine(Repo.Root, "deploy", "test", "stack.sh");

    private string? _unavailable;

    /// <summary>The size of the built image in bytes, as the engine reports it.</summary>
    public long ImageBytes { get; private set; }

    /// <summary>The host port the nginx container publishes (free when the collection started).</summary>
    public int HostPort { get; } = FreePort();

    /// <summary>What the stories saw, in order, for the tests' output.</summary>
    public StoryLog Log { get; } = new();

    /// <summary>The compose stacks' story, started once the images are built.</summary>
    public Task<ComposeStory> Compose { get; private set; } = Task.FromException<ComposeStory>(new InvalidOperationException("not started"));

    /// <summary>The Kubernetes manifests' story (<c>podman kube play</c>), beside <see cref="Compose"/>.</summary>
    public Task<KubeStory> Kube { get; private set; } = Task.FromException<KubeStory>(new InvalidOperationException("not started"));

    /// <summary>The compose story, once it ended, with what it saw written to the test's output.</summary>
    public async Task<ComposeStory> StoryAsync(Xunit.Abstractions.ITestOutputHelper output)
    {
        RequireEngine();
        try
        {
            return await Compose;
        }
        finally
        {
            output.WriteLine(Log.ToString());
        }
    }

    public async Task InitializeAsync()
    {
        if (!HasEngine())
        {
            _unavailable = "neither a Docker engine nor podman is installed (./setup.sh installs podman)";
            return;
        }

        // A cold start makes a Debian base with debootstrap and three stand-in images before the build.
        var started = await RunScriptAsync(TimeSpan.FromMinutes(25), "start");
        if (started.ExitCode != 0)
        {
            _unavailable = null;
            throw new InvalidOperationException("deploy/test/stack.sh start failed:\n" + started.Output);
        }

        var line = started.Stdout.Split('\n').First(l => l.StartsWith("image courier:latest ", StringComparison.Ordinal));
        ImageBytes = long.Parse(line.Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture);
        Log.Line($"engine started and images ready ({string.Join("; ", started.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))})");
        // Side by side while the compose stacks come up (most of both is waiting for containers to start and turn
        // healthy); the compose benches wait for the Kubernetes story to end: beside them, a small machine starved the
        // pods' health checks (their containers stayed "starting" for minutes).
        Kube = Task.Run(() => KubeStory.RunAsync(this, Log));
        Compose = Task.Run(() => ComposeStory.RunAsync(this, Log, quiet: Kube));
    }

    public async Task DisposeAsync()
    {
        if (_unavailable is null)
        {
            // A test that failed early must not take the engine from under a story still running.
            await Task.WhenAll(Compose, Kube).ContinueWith(_ => { }, TaskScheduler.Default);
            await RunScriptAsync(TimeSpan.FromMinutes(3), "stop");
        }
    }

    /// <summary>Skips (fails in CI) when no container engine is installed.</summary>
    public void RequireEngine()
    {
        if (_unavailable is not null)
        {
            Assert.False(Repo.IsCi, "CI needs a container engine: " + _unavailable);
            Skip.If(true, _unavailable);
        }
    }

    /// <summary>docker-compose with deploy/docker-compose.yml and the test's override file.</summary>
    public Task<Result> ComposeAsync(TimeSpan timeout, params string[] args) => RunScriptAsync(timeout, ["compose", .. args]);

    /// <summary>The engine's own CLI (docker or podman).</summary>
    public Task<Result> EngineAsync(TimeSpan timeout, params string[] args) => RunScriptAsync(timeout, ["engine", .. args]);

    /// <summary>Like <see cref="ComposeAsync"/>, but fails the test on a non-zero exit code.</summary>
    public async Task<string> ComposeOkAsync(TimeSpan timeout, params string[] args)
    {
        var result = await ComposeAsync(timeout, args);
        Assert.True(result.ExitCode == 0, $"compose {string.Join(' ', args)} exited {result.ExitCode}:\n{result.Output}");
        return result.Stdout;
    }

    /// <summary>Like <see cref="EngineAsync"/>, but fails the test on a non-zero exit code.</summary>
    public async Task<string> EngineOkAsync(TimeSpan timeout, params string[] args)
    {
        var result = await EngineAsync(timeout, args);
        Assert.True(result.ExitCode == 0, $"engine {string.Join(' ', args)} exited {result.ExitCode}:\n{result.Output}");
        return result.Stdout;
    }

    /// <summary>Like <see cref="EngineOkAsync"/>, its output's non-empty lines (a listing: ids, names).</summary>
    public async Task<string[]> EngineLinesAsync(TimeSpan timeout, params string[] args)
        => (await EngineOkAsync(timeout, args)).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The ids of the service's running containers.</summary>
    public async Task<string[]> ContainersAsync(string service)
        => (await ComposeOkAsync(TimeSpan.FromMinutes(1), "ps", "-q", service))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Waits until each of the service's <paramref name="count"/> containers reports healthy.</summary>
    public async Task WaitHealthyAsync(string service, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        var states = "";
        while (DateTime.UtcNow < deadline)
        {
            var ids = await ContainersAsync(service);
            if (ids.Length == count)
            {
                states = await EngineOkAsync(TimeSpan.FromMinutes(1), ["inspect", "--format", "{{.State.Health.Status}}", .. ids]);
                if (states.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(s => s.Trim() == "healthy") == count)
                {
                    return;
                }
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        Assert.Fail($"{count} healthy {service} containers, in 3 minutes; last seen: {states}");
    }

    private static bool HasEngine()
        => Environment.GetEnvironmentVariable("PATH")!.Split(':')
            .Any(dir => File.Exists(Path.Combine(dir, "podman")) || File.Exists(Path.Combine(dir, "docker")));

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Runs stack.sh; past the timeout its process group is killed and the result says so.</summary>
    public async Task<Result> RunScriptAsync(TimeSpan timeout, params string[] args)
    {
        var info = new ProcessStartInfo("setsid", ["--wait", Script, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.Environment["COURIER_PORT"] = HostPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // setsid made the script its own process group: end it and whatever it started.
            using var kill = Process.Start("kill", ["-KILL", "--", "-" + process.Id]);
            await process.WaitForExitAsync();
            lock (stderr)
            {
                stderr.AppendLine("(killed after " + timeout + ")");
            }
        }

        process.WaitForExit(); // the output's end
        lock (stdout)
        {
            lock (stderr)
            {
                return new Result(process.ExitCode, stdout.ToString(), stderr.ToString());
            }
        }
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string Output => Stdout + Stderr;
    }
}

[CollectionDefinition(Name)]
public sealed class ContainerTestsDefinition : ICollectionFixture<ComposeFixture>
{
    public const string Name = "containers";
}
