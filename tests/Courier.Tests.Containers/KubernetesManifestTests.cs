using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Containers;

/// <summary>
/// deploy/k8s: every kustomization (the base and each overlay) rendered and validated against the Kubernetes API's
/// schemas by deploy/test/k8s/validate.mjs (npm's kubernetes-models), then what the deployment relies on, checked.
/// </summary>
public sealed partial class KubernetesManifestTests
{
    private static readonly string K8s = Path.Combine(Repo.Root, "deploy", "k8s");
    private static readonly string Validator = Path.Combine(Repo.Root, "deploy", "test", "k8s");

    private static readonly Lazy<Task<Dictionary<string, JsonElement[]>>> Rendered = new(RenderAsync);

    public static TheoryData<string> Kustomizations()
    {
        var data = new TheoryData<string>();
        foreach (var dir in AllKustomizations())
        {
            data.Add(dir);
        }

        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Kustomizations))]
    public async Task Servers_are_probed_with_courier_health_limited_non_root_and_outlive_their_drain(string kustomization)
    {
        var objects = (await RenderedAsync())[kustomization];
        var server = Single(objects, "Deployment", "courier-server");
        var pod = server.GetProperty("spec").GetProperty("template").GetProperty("spec");
        var container = pod.GetProperty("containers")[0];

        foreach (var probe in new[] { "readinessProbe", "livenessProbe" })
        {
            var command = container.GetProperty(probe).GetProperty("exec").GetProperty("command").EnumerateArray().Select(e => e.GetString()!).ToArray();
            Assert.Equal(["courier", "health"], command.Take(2));
        }

        foreach (var kind in new[] { "requests", "limits" })
        {
            var resources = container.GetProperty("resources").GetProperty(kind);
            Assert.True(resources.TryGetProperty("cpu", out _) && resources.TryGetProperty("memory", out _), $"{kind}: cpu and memory");
        }

        Assert.True(pod.GetProperty("securityContext").GetProperty("runAsNonRoot").GetBoolean());
        Assert.NotEqual(0, pod.GetProperty("securityContext").GetProperty("runAsUser").GetInt32());
        var args = container.GetProperty("args").EnumerateArray().Select(e => e.GetString()!).ToList();
        var drain = args[args.IndexOf("--drain-timeout") + 1];
        Assert.Matches(SecondsPattern(), drain);
        Assert.True(
            pod.GetProperty("terminationGracePeriodSeconds").GetInt32() > int.Parse(drain.TrimEnd('s'), System.Globalization.CultureInfo.InvariantCulture),
            "the grace period outlasts the drain");

        var budget = Single(objects, "PodDisruptionBudget", "courier-server");
        Assert.Equal(
            server.GetProperty("spec").GetProperty("selector").GetProperty("matchLabels").GetRawText(),
            budget.GetProperty("spec").GetProperty("selector").GetProperty("matchLabels").GetRawText());
    }

    [SkippableTheory]
    [MemberData(nameof(Kustomizations))]
    public async Task Nginx_has_the_compose_files_config_and_resolves_the_servers_through_a_headless_service(string kustomization)
    {
        var objects = (await RenderedAsync())[kustomization];
        var headless = Single(objects, "Service", "courier-server");
        Assert.Equal("None", headless.GetProperty("spec").GetProperty("clusterIP").GetString());

        var config = Single(objects, "ConfigMap", "courier-nginx").GetProperty("data");
        foreach (var file in new[] { "nginx.conf", "courier-stream.conf.template" })
        {
            Assert.Equal(File.ReadAllText(Path.Combine(Repo.Root, "deploy", "nginx", file)), config.GetProperty(file).GetString());
        }

        var nginx = Single(objects, "Deployment", "courier-nginx").GetProperty("spec").GetProperty("template").GetProperty("spec");
        Assert.True(nginx.GetProperty("securityContext").GetProperty("runAsNonRoot").GetBoolean());
        var upstream = nginx.GetProperty("containers")[0].GetProperty("env").EnumerateArray()
            .Single(e => e.GetProperty("name").GetString() == "COURIER_UPSTREAM_SERVERS").GetProperty("value").GetString();
        Assert.Contains("server courier-server.", upstream, StringComparison.Ordinal);
        Assert.Contains(" resolve;", upstream, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [MemberData(nameof(Kustomizations))]
    public async Task Workers_scale_by_an_autoscaler_and_every_courier_pod_runs_as_non_root(string kustomization)
    {
        var objects = (await RenderedAsync())[kustomization];
        var target = Single(objects, "HorizontalPodAutoscaler", "courier-worker").GetProperty("spec").GetProperty("scaleTargetRef");
        Assert.Equal("Deployment", target.GetProperty("kind").GetString());
        Assert.Equal("courier-worker", target.GetProperty("name").GetString());

        foreach (var name in new[] { "courier-server", "courier-broker", "courier-worker", "courier-nginx" })
        {
            var pod = Single(objects, "Deployment", name).GetProperty("spec").GetProperty("template").GetProperty("spec");
            Assert.True(pod.GetProperty("securityContext").GetProperty("runAsNonRoot").GetBoolean(), name);
            Assert.True(pod.GetProperty("containers")[0].TryGetProperty("resources", out _), name);
        }
    }

    [SkippableFact]
    public async Task The_secure_overlay_runs_every_courier_role_with_curve_from_its_own_secret_and_the_listeners_with_the_policy()
    {
        var objects = (await RenderedAsync())[Path.Combine("deploy", "k8s", "overlays", "secure")];
        Assert.Equal(
            File.ReadAllText(Path.Combine(Repo.Root, "deploy", "policy.secure.json")),
            Single(objects, "ConfigMap", "courier-policy").GetProperty("data").GetProperty("policy.json").GetString());

        foreach (var (name, secret, listener) in new[] { ("courier-server", "courier-listener-keys", true), ("courier-broker", "courier-listener-keys", true), ("courier-worker", "courier-worker-keys", false) })
        {
            var pod = Single(objects, "Deployment", name).GetProperty("spec").GetProperty("template").GetProperty("spec");
            var container = pod.GetProperty("containers")[0];
            var args = Strings(container.GetProperty("args"));
            Assert.Contains("--curve-secret", args);
            Assert.Contains(listener ? "--curve-allow" : "--curve-server", args);
            if (listener)
            {
                Assert.Contains("--policy", args);
            }

            // Every probe connects with a key: without one a CURVE listener never answers, and the pod is never ready.
            foreach (var probe in container.EnumerateObject().Where(p => p.Name.EndsWith("Probe", StringComparison.Ordinal)))
            {
                Assert.Contains("--curve-secret", Strings(probe.Value.GetProperty("exec").GetProperty("command")));
            }

            // Its role's Secret only, readable by the image's user through the pod's group, by no one else.
            var keys = pod.GetProperty("volumes").EnumerateArray().Where(v => v.TryGetProperty("secret", out _)).ToArray();
            Assert.Equal(secret, Assert.Single(keys).GetProperty("secret").GetProperty("secretName").GetString());
            Assert.Equal(Convert.ToInt32("440", 8), keys[0].GetProperty("secret").GetProperty("defaultMode").GetInt32());
            Assert.Equal(1654, pod.GetProperty("securityContext").GetProperty("fsGroup").GetInt32());
        }
    }

    private static List<string> Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    [SkippableFact]
    public async Task The_renderer_renders_what_kubectl_kustomize_does_when_kubectl_is_here()
    {
        var rendered = await RenderedAsync();
        var kubectl = Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(d => Path.Combine(d, "kubectl")).FirstOrDefault(File.Exists);
        Skip.If(kubectl is null, "kubectl is not installed (optional: this only checks validate.mjs's rendering against it)");

        foreach (var (dir, objects) in rendered)
        {
            var (exit, stdout, stderr) = await RunAsync(kubectl!, "kustomize", Path.Combine(Repo.Root, dir));
            Assert.True(exit == 0, stderr);
            var theirs = KindAndName().Matches(stdout).Select(m => m.Groups[1].Value).Order();
            // kustomize suffixes a generated ConfigMap's name with a hash of its content; validate.mjs does not.
            var ours = objects.Select(o => o.GetProperty("kind").GetString()).Order();
            Assert.Equal(ours, theirs);
        }
    }

    private static JsonElement Single(JsonElement[] objects, string kind, string name)
        => Assert.Single(objects, o => o.GetProperty("kind").GetString() == kind && o.GetProperty("metadata").GetProperty("name").GetString() == name);

    private static IEnumerable<string> AllKustomizations()
        => Directory.EnumerateFiles(K8s, "kustomization.yaml", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Repo.Root, Path.GetDirectoryName(f)!))
            .Order();

    internal static async Task<Dictionary<string, JsonElement[]>> RenderedAsync()
    {
        var node = Environment.GetEnvironmentVariable("PATH")!.Split(':').Any(d => File.Exists(Path.Combine(d, "node")));
        Assert.False(!node && Repo.IsCi, "CI needs node and npm: ./setup.sh installs them");
        Skip.IfNot(node, "node is not installed (./setup.sh installs nodejs and npm)");
        return await Rendered.Value;
    }

    private static async Task<Dictionary<string, JsonElement[]>> RenderAsync()
    {
        if (!File.Exists(Path.Combine(Validator, "node_modules", ".package-lock.json"))
            || File.GetLastWriteTimeUtc(Path.Combine(Validator, "package-lock.json")) > File.GetLastWriteTimeUtc(Path.Combine(Validator, "node_modules", ".package-lock.json")))
        {
            var (ci, _, ciErr) = await RunAsync("npm", "ci", "--no-audit", "--no-fund", "--prefix", Validator);
            Assert.True(ci == 0, "npm ci: " + ciErr);
        }

        var (exit, stdout, stderr) = await RunAsync("node", [Path.Combine(Validator, "validate.mjs"), .. AllKustomizations()]);
        Assert.True(exit == 0, "deploy/k8s does not validate:\n" + stderr);
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .ToDictionary(e => e.GetProperty("dir").GetString()!, e => e.GetProperty("objects").EnumerateArray().ToArray());
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repo.Root,
        };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [GeneratedRegex(@"^kind: (\w+)$", RegexOptions.Multiline)]
    private static partial Regex KindAndName();

    [GeneratedRegex(@"^\d+s$")]
    private static partial Regex SecondsPattern();
}
