using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;

namespace Courier.Tests.Containers.Infrastructure;

/// <summary>
/// deploy/k8s run for real as far as podman runs Kubernetes objects (<c>podman kube play</c>): the single-node
/// overlay's Deployments (servers, nginx with its ConfigMap, broker, workers) as pods, on the image the collection
/// built, the two halves side by side on one network (beside <see cref="ComposeStory"/>'s start-up). What podman cannot do
/// is adapted in <see cref="KubePlay"/>; the Services, the PodDisruptionBudget, the autoscaler and the readiness
/// probes have no podman counterpart and stay with <c>KubernetesManifestTests</c>. Each half's failure is kept for
/// the test that asserts it.
/// </summary>
public sealed class KubeStory
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    private static readonly SemaphoreSlim KubeGate = new(1, 1);

    private readonly ComposeFixture _stack;
    private readonly StoryLog _log;
    private readonly KubePlay _play;

    private KubeStory(ComposeFixture stack, StoryLog log, KubePlay play)
    {
        _stack = stack;
        _log = log;
        _play = play;
    }

    /// <summary>Why nothing was played (the engine is not podman), or null.</summary>
    public string? Skipped { get; private init; }

    /// <summary>How the server and nginx Deployments' half failed, or null when it passed.</summary>
    public ExceptionDispatchInfo? Servers { get; private set; }

    /// <summary>How the broker and worker Deployments' half failed, or null when it passed.</summary>
    public ExceptionDispatchInfo? Brokers { get; private set; }

    /// <summary>The volumes that `kube down` of both halves left beside what was there before (podman 4.3 keeps the ConfigMap's).</summary>
    public string[] VolumesAfterKubeDown { get; private set; } = [];

    /// <summary>After the clean-up: volumes beyond those there before, and whether the test network is still listed.</summary>
    public (string[] Volumes, bool Network) LeftAfterCleanUp { get; private set; }

    public static async Task<KubeStory> RunAsync(ComposeFixture stack, StoryLog log)
    {
        var engine = (await stack.EngineOkAsync(Minute, "--version")).Trim();
        if (!engine.StartsWith("podman", StringComparison.Ordinal))
        {
            return new KubeStory(stack, log, null!) { Skipped = $"`kube play` is podman's; the engine here is {engine}" };
        }

        using var play = new KubePlay((await KubernetesManifestTests.RenderedAsync())[KubePlay.Overlay]);
        var story = new KubeStory(stack, log, play);
        await story.CleanUpAsync();
        var volumesBefore = await story.ListAsync("volume", "ls", "-q");
        try
        {
            await stack.EngineOkAsync(Minute, "network", "create", KubePlay.Network);
            var servers = Capture(story.ServersAndNginxAsync);
            var brokers = Capture(story.BrokerAndWorkersAsync);
            story.Servers = await servers;
            story.Brokers = await brokers;
            story.VolumesAfterKubeDown = [.. (await story.ListAsync("volume", "ls", "-q")).Except(volumesBefore)];
        }
        finally
        {
            await story.CleanUpAsync();
        }

        story.LeftAfterCleanUp = (
            [.. (await story.ListAsync("volume", "ls", "-q")).Except(volumesBefore)],
            (await story.ListAsync("network", "ls", "--format", "{{.Name}}")).Contains(KubePlay.Network));
        return story;
    }

    /// <summary>
    /// `podman kube …`, one at a time: both halves' pods mount an emptyDir named <c>tmp</c>, which podman 4.3 makes a
    /// named volume; two plays at once could both find it missing and both create it, and the second then fails ("name
    /// tmp is in use: volume already exists", once in a fresh-clone CI run).
    /// </summary>
    private async Task KubeAsync(params string[] args)
    {
        await KubeGate.WaitAsync();
        try
        {
            await _stack.EngineOkAsync(Minute, ["kube", .. args]);
        }
        finally
        {
            KubeGate.Release();
        }
    }

    private static async Task<ExceptionDispatchInfo?> Capture(Func<Task> half)
    {
        try
        {
            await half();
            return null;
        }
        catch (Exception e)
        {
            return ExceptionDispatchInfo.Capture(e);
        }
    }

    private async Task ServersAndNginxAsync()
    {
        var (play, log) = (_play, _log);
        var clock = Stopwatch.StartNew();
        // The aliases stand in for the Services: `courier-server` resolves to every server pod, as the headless
        // Service's name does.
        await KubeAsync("play", "--quiet", "--network", $"{KubePlay.Network}:alias=courier-server", play.ServersFile);
        log.Line($"kube: server Deployment played in {clock.Elapsed.TotalSeconds:F1} s");
        // podman 4.3 makes a pod per replica (NAME-pod-0, NAME-pod-1, …); podman 4.4 and later make one (NAME-pod).
        var servers = await PodsAsync("courier-server");
        Assert.True(servers.Length == play.ServerReplicas || servers.Length == 1, $"{play.ServerReplicas} replicas played as pods {string.Join(", ", servers)}");

        // nginx needs only the servers' name to start (it resolves the alias once, at its start), not their health.
        await KubeAsync("play", "--quiet", "--network", $"{KubePlay.Network}:alias=courier-nginx", play.NginxFile);
        log.Line($"kube: nginx Deployment played after {clock.Elapsed.TotalSeconds:F1} s");
        var nginx = Assert.Single(await PodsAsync("courier-nginx")) + "-nginx";

        // The liveness probe (`courier health`) is the containers' health check, which the fixture's loop runs.
        await Task.WhenAll(WaitAsync(servers.Select(p => p + "-server").ToArray(), healthy: true), WaitAsync([nginx], healthy: false));
        log.Line($"kube: {servers.Length} server pods healthy after {clock.Elapsed.TotalSeconds:F1} s");
        // The pods one beside the other: each step is a podman command of its own.
        await Task.WhenAll(servers.Select(async pod =>
        {
            Assert.Equal(play.ServerUid, await ComposeStory.ProcessUidAsync(_stack, pod + "-server"));
            var host = (await _stack.EngineOkAsync(
                Minute, "inspect", "--format", "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.Memory}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}}", pod + "-server"))
                .Split(' ', StringSplitOptions.TrimEntries);
            Assert.Equal("true", host[0]);
            // The manifest's limits, on the container's cgroup.
            Assert.Equal(play.ServerMemoryLimit, long.Parse(host[1], CultureInfo.InvariantCulture));
            Assert.Equal(play.ServerCpuLimit, double.Parse(host[2], CultureInfo.InvariantCulture) / double.Parse(host[3], CultureInfo.InvariantCulture), 3);
            // Each pod answers over the pod network with its own name (the server's default: the host name).
            Assert.Equal(pod, (await RequestAsync(servers[0], $"tcp://{await IpAsync(pod)}:5555")).Trim());
        }));
        log.Line($"kube: each server pod answered across the pod network after {clock.Elapsed.TotalSeconds:F1} s");

        Assert.Equal(play.NginxUid, await ComposeStory.ProcessUidAsync(_stack, nginx));
        await WaitSucceedsAsync(
            servers[0] + "-server", "courier", "request", "--connect", "tcp://courier-nginx:5555", "--service", "whoami", "--timeout", "1s", "--retries", "0");

        // Fresh connections through nginx (least_conn), until every server pod has answered (or 30 requests went). Each
        // request gets 10 s a try, and the loop tolerates two failed requests, each reported: a fresh process's request
        // through nginx timed out whole (4 tries) in three CI runs of 2026-12-03/04 while the compose stacks came up
        // (each server pod up and answering directly, nginx's log empty), and was not reproduced here. Every pod must
        // still answer through nginx.
        var output = await WithNginxLogAsync(nginx, [.. servers.Select(pod => pod + "-server")], () => _stack.EngineOkAsync(
            3 * Minute, "exec", servers[0] + "-server", "sh", "-c",
            "seen=''; failed=0; for i in $(seq 30); do "
            + "if id=$(courier request --connect tcp://courier-nginx:5555 --service whoami --timeout 10s 2>/tmp/request-error); then "
            + "case \" $seen \" in *\" $id \"*) ;; *) seen=\"$seen $id\" ;; esac; "
            + "else failed=$((failed + 1)); echo \"request $i failed: $(cat /tmp/request-error)\" >&2; [ $failed -ge 3 ] && exit 1; fi; "
            + $"[ $(echo $seen | wc -w) -ge {servers.Length} ] && break; done; echo \"$seen|$failed\""));
        var (seen, failed) = (output.Split('|')[0], output.Split('|')[1].Trim());
        log.Line($"kube: through the nginx pod: {seen.Trim()}, {failed} request(s) failed ({clock.Elapsed.TotalSeconds:F1} s)");
        Assert.Equal(servers.Order(), seen.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order());

        await KubeAsync("down", play.NginxFile);
        await KubeAsync("down", play.ServersFile);
        log.Line($"kube: played and down in {clock.Elapsed.TotalSeconds:F1} s");

        Assert.Empty(await ListAsync("pod", "ps", "-q", "--filter", "name=^courier-(server|nginx)-pod-"));
        Assert.Empty(await ListAsync("ps", "-a", "-q", "--filter", "name=^courier-(server|nginx)-pod-"));
    }

    /// <summary>
    /// <paramref name="step"/>, with the logs of the nginx container and of the servers behind it added to its failure: a
    /// request through nginx timed out twice on 2026-12-03 (not reproduced), and nginx's log alone (it logs a stream
    /// session when it ends) could not tell a dead upstream from a slow one.
    /// </summary>
    private async Task<string> WithNginxLogAsync(string nginx, string[] upstreams, Func<Task<string>> step)
    {
        try
        {
            return await step();
        }
        catch (Exception e)
        {
            var report = new System.Text.StringBuilder(e.Message);
            foreach (var container in (string[])[nginx, .. upstreams])
            {
                var logs = await _stack.EngineAsync(Minute, "logs", "--tail", "40", container);
                report.Append(CultureInfo.InvariantCulture, $"\n{container}'s log (last 40 lines):\n{logs.Output}");
            }

            throw new InvalidOperationException(report.ToString(), e);
        }
    }

    private async Task BrokerAndWorkersAsync()
    {
        var play = _play;
        // The alias stands in for the broker's Service, which the workers connect to by name.
        await KubeAsync("play", "--quiet", "--network", $"{KubePlay.Network}:alias=courier-broker", play.BrokerFile);
        var broker = Assert.Single(await PodsAsync("courier-broker")) + "-broker";
        await KubeAsync("play", "--quiet", "--network", KubePlay.Network, play.WorkersFile);
        var workers = (await PodsAsync("courier-worker")).Select(p => p + "-worker").ToArray();
        Assert.NotEmpty(workers);

        await WaitAsync([broker], healthy: true);
        await WaitAsync(workers, healthy: false);
        Assert.Equal(play.BrokerUid, await ComposeStory.ProcessUidAsync(_stack, broker));
        foreach (var worker in workers)
        {
            Assert.Equal(play.WorkerUid, await ComposeStory.ProcessUidAsync(_stack, worker));
        }

        // The workers' readiness probe, which podman does not run: the broker has an echo worker.
        await WaitSucceedsAsync(
            workers[0], "courier", "health", "--connect", "tcp://courier-broker:5555", "--service", "echo", "--timeout", "2s");
        var echo = await _stack.EngineOkAsync(
            Minute, "exec", broker, "courier", "request", "--connect", "tcp://127.0.0.1:5555", "--service", "echo", "--timeout", "5s", "kube-play");
        Assert.Equal("kube-play", echo.Trim());

        await KubeAsync("down", play.WorkersFile);
        await KubeAsync("down", play.BrokerFile);
        Assert.Empty(await ListAsync("pod", "ps", "-q", "--filter", "name=^courier-(broker|worker)-pod"));
        Assert.Empty(await ListAsync("ps", "-a", "-q", "--filter", "name=^courier-(broker|worker)-pod"));
    }

    /// <summary>Polls until each container runs and, when <paramref name="healthy"/>, its health check passed.</summary>
    private async Task WaitAsync(string[] containers, bool healthy)
    {
        var format = healthy ? "{{.State.Status}} {{.State.Health.Status}}" : "{{.State.Status}}";
        var want = healthy ? "running healthy" : "running";
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        var states = "";
        while (DateTime.UtcNow < deadline)
        {
            var result = await _stack.EngineAsync(Minute, ["inspect", "--format", format, .. containers]);
            states = result.Output.Trim();
            if (result.ExitCode == 0 && states.Split('\n').Count(s => s.Trim() == want) == containers.Length)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }

        Assert.Fail($"{string.Join(", ", containers)}: not all {want} in 2 minutes; last seen:\n{states}");
    }

    /// <summary>Polls until the command, run in the container, exits 0 (a port listens a moment after its process runs).</summary>
    private async Task WaitSucceedsAsync(string container, params string[] command)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            var result = await _stack.EngineAsync(Minute, ["exec", container, .. command]);
            if (result.ExitCode == 0)
            {
                return;
            }

            last = result.Output;
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }

        Assert.Fail($"{container}: `{string.Join(' ', command)}` did not succeed in 1 minute; last:\n{last}");
    }

    /// <summary>`courier request --service whoami` from inside a server pod's container.</summary>
    private Task<string> RequestAsync(string fromPod, string endpoint)
        => _stack.EngineOkAsync(Minute, "exec", fromPod + "-server", "courier", "request", "--connect", endpoint, "--service", "whoami", "--timeout", "5s");

    /// <summary>The pod's address on the test network (its infra container holds the pod's network).</summary>
    private async Task<string> IpAsync(string pod)
    {
        var infra = (await _stack.EngineOkAsync(Minute, "pod", "inspect", "--format", "{{.InfraContainerID}}", pod)).Trim();
        return (await _stack.EngineOkAsync(Minute, "inspect", "--format", $"{{{{(index .NetworkSettings.Networks \"{KubePlay.Network}\").IPAddress}}}}", infra)).Trim();
    }

    /// <summary>The pods played from the Deployment (they carry its template's labels).</summary>
    private Task<string[]> PodsAsync(string deployment)
        => ListAsync("pod", "ps", "--format", "{{.Name}}", "--filter", "label=app.kubernetes.io/name=" + deployment);

    private Task<string[]> ListAsync(params string[] args) => _stack.EngineLinesAsync(Minute, args);

    /// <summary>Whatever a failed or interrupted run left: the pods, the ConfigMap's volume, the network (errors ignored).</summary>
    private async Task CleanUpAsync()
    {
        foreach (var file in new[] { _play.NginxFile, _play.ServersFile, _play.WorkersFile, _play.BrokerFile })
        {
            await _stack.EngineAsync(Minute, "kube", "down", file);
        }

        await _stack.EngineAsync(Minute, ["volume", "rm", "--force", .. KubePlay.ConfigMapVolumes]);
        await _stack.EngineAsync(Minute, "network", "rm", "--force", KubePlay.Network);
    }
}
