using System.Diagnostics;
using System.Globalization;
using Courier.Tests.Containers.Infrastructure;
using Xunit.Abstractions;

namespace Courier.Tests.Containers;

/// <summary>
/// deploy/k8s run for real as far as podman runs Kubernetes objects (<c>podman kube play</c>): the single-node
/// overlay's Deployments (servers, nginx with its ConfigMap, broker, workers) as pods, on the image the collection built.
/// What podman cannot do is adapted in <see cref="KubePlay"/>; the Services, the PodDisruptionBudget, the autoscaler
/// and the readiness probes have no podman counterpart and stay with <see cref="KubernetesManifestTests"/>.
/// </summary>
[Collection(ContainerTestsDefinition.Name)]
public sealed class KubePlayTests(ComposeFixture stack, ITestOutputHelper output)
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    [SkippableFact]
    public async Task Server_and_nginx_deployments_played_by_podman_run_non_root_and_limited_turn_healthy_answer_through_nginx_and_go_down_without_a_trace()
    {
        using var play = await StartAsync();
        var volumesBefore = await ListAsync("volume", "ls", "-q");
        var clock = Stopwatch.StartNew();
        try
        {
            await stack.EngineOkAsync(Minute, "network", "create", KubePlay.Network);
            // The aliases stand in for the Services: `courier-server` resolves to every server pod, as the headless
            // Service's name does.
            await stack.EngineOkAsync(Minute, "kube", "play", "--quiet", "--network", $"{KubePlay.Network}:alias=courier-server", play.ServersFile);
            output.WriteLine($"server Deployment played in {clock.Elapsed.TotalSeconds:F1} s");
            // podman 4.3 makes a pod per replica (NAME-pod-0, NAME-pod-1, …); podman 4.4 and later make one (NAME-pod).
            var servers = await PodsAsync("courier-server");
            Assert.True(servers.Length == play.ServerReplicas || servers.Length == 1, $"{play.ServerReplicas} replicas played as pods {string.Join(", ", servers)}");

            // The liveness probe (`courier health`) is the containers' health check, which the fixture's loop runs.
            await WaitAsync(servers.Select(p => p + "-server").ToArray(), healthy: true);
            output.WriteLine($"{servers.Length} server pods healthy after {clock.Elapsed.TotalSeconds:F1} s");
            // The pods one beside the other: each step is a podman command of its own.
            await Task.WhenAll(servers.Select(async pod =>
            {
                Assert.Equal(play.ServerUid, await ServerStackTests.ProcessUidAsync(stack, pod + "-server"));
                var host = (await stack.EngineOkAsync(
                    Minute, "inspect", "--format", "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.Memory}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}}", pod + "-server"))
                    .Split(' ', StringSplitOptions.TrimEntries);
                Assert.Equal("true", host[0]);
                // The manifest's limits, on the container's cgroup.
                Assert.Equal(play.ServerMemoryLimit, long.Parse(host[1], CultureInfo.InvariantCulture));
                Assert.Equal(play.ServerCpuLimit, double.Parse(host[2], CultureInfo.InvariantCulture) / double.Parse(host[3], CultureInfo.InvariantCulture), 3);
                // Each pod answers over the pod network with its own name (the server's default: the host name).
                Assert.Equal(pod, (await RequestAsync(servers[0], $"tcp://{await IpAsync(pod)}:5555")).Trim());
            }));
            output.WriteLine($"each server pod answered across the pod network after {clock.Elapsed.TotalSeconds:F1} s");

            await stack.EngineOkAsync(Minute, "kube", "play", "--quiet", "--network", $"{KubePlay.Network}:alias=courier-nginx", play.NginxFile);
            output.WriteLine($"nginx Deployment played after {clock.Elapsed.TotalSeconds:F1} s");
            var nginx = Assert.Single(await PodsAsync("courier-nginx")) + "-nginx";
            await WaitAsync([nginx], healthy: false);
            Assert.Equal(play.NginxUid, await ServerStackTests.ProcessUidAsync(stack, nginx));
            await WaitSucceedsAsync(
                servers[0] + "-server", "courier", "request", "--connect", "tcp://courier-nginx:5555", "--service", "whoami", "--timeout", "1s", "--retries", "0");

            // Fresh connections through nginx (least_conn), until every server pod has answered (or 30 requests went).
            var seen = await stack.EngineOkAsync(
                Minute, "exec", servers[0] + "-server", "sh", "-c",
                "seen=''; for i in $(seq 30); do id=$(courier request --connect tcp://courier-nginx:5555 --service whoami --timeout 2s) || exit 1; "
                + "case \" $seen \" in *\" $id \"*) ;; *) seen=\"$seen $id\" ;; esac; "
                + $"[ $(echo $seen | wc -w) -ge {servers.Length} ] && break; done; echo $seen");
            output.WriteLine($"through the nginx pod: {seen.Trim()} ({clock.Elapsed.TotalSeconds:F1} s)");
            Assert.Equal(servers.Order(), seen.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order());

            await stack.EngineOkAsync(Minute, "kube", "down", play.NginxFile);
            await stack.EngineOkAsync(Minute, "kube", "down", play.ServersFile);
            output.WriteLine($"played and down in {clock.Elapsed.TotalSeconds:F1} s");

            Assert.Empty(await ListAsync("pod", "ps", "-q", "--filter", "name=^courier-(server|nginx)-pod-"));
            Assert.Empty(await ListAsync("ps", "-a", "-q", "--filter", "name=^courier-(server|nginx)-pod-"));
            // The emptyDir volumes went with their pods; `kube down` keeps the volume it made for the ConfigMap (podman
            // 4.4 and later remove it with --force, which 4.3 does not have).
            Assert.Equal(KubePlay.ConfigMapVolumes, (await ListAsync("volume", "ls", "-q")).Except(volumesBefore));
        }
        finally
        {
            await CleanUpAsync(play);
        }

        Assert.Empty((await ListAsync("volume", "ls", "-q")).Except(volumesBefore));
        Assert.DoesNotContain(KubePlay.Network, await ListAsync("network", "ls", "--format", "{{.Name}}"));
    }

    [SkippableFact]
    public async Task Broker_and_worker_deployments_played_by_podman_run_non_root_and_serve_echo_through_the_broker()
    {
        using var play = await StartAsync();
        var volumesBefore = await ListAsync("volume", "ls", "-q");
        try
        {
            await stack.EngineOkAsync(Minute, "network", "create", KubePlay.Network);
            // The alias stands in for the broker's Service, which the workers connect to by name.
            await stack.EngineOkAsync(Minute, "kube", "play", "--quiet", "--network", $"{KubePlay.Network}:alias=courier-broker", play.BrokerFile);
            var broker = Assert.Single(await PodsAsync("courier-broker")) + "-broker";
            await stack.EngineOkAsync(Minute, "kube", "play", "--quiet", "--network", KubePlay.Network, play.WorkersFile);
            var workers = (await PodsAsync("courier-worker")).Select(p => p + "-worker").ToArray();
            Assert.NotEmpty(workers);

            await WaitAsync([broker], healthy: true);
            await WaitAsync(workers, healthy: false);
            Assert.Equal(play.BrokerUid, await ServerStackTests.ProcessUidAsync(stack, broker));
            foreach (var worker in workers)
            {
                Assert.Equal(play.WorkerUid, await ServerStackTests.ProcessUidAsync(stack, worker));
            }

            // The workers' readiness probe, which podman does not run: the broker has an echo worker.
            await WaitSucceedsAsync(
                workers[0], "courier", "health", "--connect", "tcp://courier-broker:5555", "--service", "echo", "--timeout", "2s");
            var echo = await stack.EngineOkAsync(
                Minute, "exec", broker, "courier", "request", "--connect", "tcp://127.0.0.1:5555", "--service", "echo", "--timeout", "5s", "kube-play");
            Assert.Equal("kube-play", echo.Trim());

            await stack.EngineOkAsync(Minute, "kube", "down", play.WorkersFile);
            await stack.EngineOkAsync(Minute, "kube", "down", play.BrokerFile);
            Assert.Empty(await ListAsync("pod", "ps", "-q", "--filter", "name=^courier-(broker|worker)-pod"));
            Assert.Empty(await ListAsync("ps", "-a", "-q", "--filter", "name=^courier-(broker|worker)-pod"));
            Assert.Empty((await ListAsync("volume", "ls", "-q")).Except(volumesBefore));
        }
        finally
        {
            await CleanUpAsync(play);
        }

        Assert.DoesNotContain(KubePlay.Network, await ListAsync("network", "ls", "--format", "{{.Name}}"));
    }

    /// <summary>The manifests, written out for podman, after what an interrupted run may have left is gone.</summary>
    private async Task<KubePlay> StartAsync()
    {
        stack.RequireEngine();
        var engine = (await stack.EngineOkAsync(Minute, "--version")).Trim();
        Skip.IfNot(engine.StartsWith("podman", StringComparison.Ordinal), $"`kube play` is podman's; the engine here is {engine}");
        var play = new KubePlay((await KubernetesManifestTests.RenderedAsync())[KubePlay.Overlay]);
        await CleanUpAsync(play);
        return play;
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
            var result = await stack.EngineAsync(Minute, ["inspect", "--format", format, .. containers]);
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
            var result = await stack.EngineAsync(Minute, ["exec", container, .. command]);
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
        => stack.EngineOkAsync(Minute, "exec", fromPod + "-server", "courier", "request", "--connect", endpoint, "--service", "whoami", "--timeout", "5s");

    /// <summary>The pod's address on the test network (its infra container holds the pod's network).</summary>
    private async Task<string> IpAsync(string pod)
    {
        var infra = (await stack.EngineOkAsync(Minute, "pod", "inspect", "--format", "{{.InfraContainerID}}", pod)).Trim();
        return (await stack.EngineOkAsync(Minute, "inspect", "--format", $"{{{{(index .NetworkSettings.Networks \"{KubePlay.Network}\").IPAddress}}}}", infra)).Trim();
    }

    /// <summary>The pods played from the Deployment (they carry its template's labels).</summary>
    private Task<string[]> PodsAsync(string deployment)
        => ListAsync("pod", "ps", "--format", "{{.Name}}", "--filter", "label=app.kubernetes.io/name=" + deployment);

    private async Task<string[]> ListAsync(params string[] args)
        => (await stack.EngineOkAsync(Minute, args)).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Whatever a failed or interrupted run left: the pods, the ConfigMap's volume, the network (errors ignored).</summary>
    private async Task CleanUpAsync(KubePlay play)
    {
        foreach (var file in new[] { play.NginxFile, play.ServersFile, play.WorkersFile, play.BrokerFile })
        {
            await stack.EngineAsync(Minute, "kube", "down", file);
        }

        await stack.EngineAsync(Minute, ["volume", "rm", "--force", .. KubePlay.ConfigMapVolumes]);
        await stack.EngineAsync(Minute, "network", "rm", "--force", KubePlay.Network);
    }
}
