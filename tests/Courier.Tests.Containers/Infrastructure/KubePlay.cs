using System.Text.Json;
using System.Text.Json.Nodes;

namespace Courier.Tests.Containers.Infrastructure;

/// <summary>
/// deploy/k8s's single-node overlay as <c>podman kube play</c> (podman 4.3) can run it: the server, broker and worker
/// Deployments, and the nginx Deployment with its ConfigMap, each written out (as JSON, which is YAML) with only what
/// podman cannot do of Kubernetes changed, each change with its reason below. podman has no Services: a network alias
/// given to the pods stands in for each (one name resolving to every pod, as the headless Service does).
/// </summary>
public sealed class KubePlay : IDisposable
{
    /// <summary>The kustomization played: the overlay made for one machine.</summary>
    public static readonly string Overlay = Path.Combine("deploy", "k8s", "overlays", "single-node");

    /// <summary>The pods' network (podman's default network has no DNS, so no aliases).</summary>
    public const string Network = "courier-kube-test";

    /// <summary>The volumes podman makes for the nginx pod's ConfigMap (named after it), which <c>kube down</c> leaves.</summary>
    public static readonly string[] ConfigMapVolumes = ["courier-nginx"];

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("courier-kube-");

    public KubePlay(JsonElement[] objects)
    {
        var server = Playable(Find(objects, "Deployment", "courier-server"));
        ServerReplicas = server["spec"]!["replicas"]!.GetValue<int>();
        ServerUid = RunAsUser(server);
        var limits = server["spec"]!["template"]!["spec"]!["containers"]![0]!["resources"]!["limits"]!;
        ServerMemoryLimit = Bytes(limits["memory"]!.GetValue<string>());
        ServerCpuLimit = Cores(limits["cpu"]!.GetValue<string>());
        ServersFile = Write("servers.yaml", server);

        var nginx = Playable(Find(objects, "Deployment", "courier-nginx"));
        NginxUid = RunAsUser(nginx);
        AdaptNginx(nginx);
        NginxFile = Write("nginx.yaml", JsonNode.Parse(Find(objects, "ConfigMap", "courier-nginx").GetRawText())!, nginx);

        var broker = Playable(Find(objects, "Deployment", "courier-broker"));
        BrokerUid = RunAsUser(broker);
        BrokerFile = Write("broker.yaml", broker);
        var workers = Playable(Find(objects, "Deployment", "courier-worker"));
        WorkerUid = RunAsUser(workers);
        WorkersFile = Write("workers.yaml", workers);
    }

    public string ServersFile { get; }

    public string NginxFile { get; }

    public string BrokerFile { get; }

    public string WorkersFile { get; }

    /// <summary>The server Deployment's replicas (the single-node overlay's).</summary>
    public int ServerReplicas { get; }

    /// <summary>The server container's memory limit, in bytes.</summary>
    public long ServerMemoryLimit { get; }

    /// <summary>The server container's CPU limit, in cores.</summary>
    public double ServerCpuLimit { get; }

    /// <summary>The uid each Deployment's pod security context asks for.</summary>
    public int ServerUid { get; }

    public int NginxUid { get; }

    public int BrokerUid { get; }

    public int WorkerUid { get; }

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>A Kubernetes memory quantity in the forms deploy/k8s uses (Ki, Mi, Gi, or plain bytes).</summary>
    private static long Bytes(string quantity)
    {
        foreach (var (suffix, factor) in new[] { ("Ki", 1L << 10), ("Mi", 1L << 20), ("Gi", 1L << 30) })
        {
            if (quantity.EndsWith(suffix, StringComparison.Ordinal))
            {
                return long.Parse(quantity[..^2], System.Globalization.CultureInfo.InvariantCulture) * factor;
            }
        }

        return long.Parse(quantity, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A Kubernetes CPU quantity: cores ("1", "0.5") or millicores ("500m").</summary>
    private static double Cores(string quantity)
        => quantity.EndsWith('m')
            ? double.Parse(quantity[..^1], System.Globalization.CultureInfo.InvariantCulture) / 1000
            : double.Parse(quantity, System.Globalization.CultureInfo.InvariantCulture);

    private static int RunAsUser(JsonNode deployment)
        => deployment["spec"]!["template"]!["spec"]!["securityContext"]!["runAsUser"]!.GetValue<int>();

    /// <summary>What every played Deployment needs here.</summary>
    private static JsonNode Playable(JsonElement deployment)
    {
        var node = JsonNode.Parse(deployment.GetRawText())!;
        foreach (var container in node["spec"]!["template"]!["spec"]!["containers"]!.AsArray().OfType<JsonNode>())
        {
            // No registry is reachable, and kube play's default policy ("newer") asks one: use the local image.
            container["imagePullPolicy"] = "Never";
            // podman 4.3 publishes each containerPort on the host, at the same port (Kubernetes publishes none without
            // a hostPort): the second replica could not bind it, and the host's port may be taken. Pods reach each
            // other's ports on the pod network without it.
            container.AsObject().Remove("ports");
            // A short name is read by a Docker engine (and tagged by the compose build) as docker.io/library/NAME;
            // podman resolves short names through search registries, and this machine configures none.
            var image = container["image"]!.GetValue<string>();
            if (!image.Split('/')[0].Contains('.', StringComparison.Ordinal))
            {
                container["image"] = "docker.io/" + (image.Contains('/', StringComparison.Ordinal) ? image : "library/" + image);
            }
        }

        return node;
    }

    private static void AdaptNginx(JsonNode deployment)
    {
        var pod = deployment["spec"]!["template"]!["spec"]!;
        var container = pod["containers"]![0]!;
        var ns = deployment["metadata"]!["namespace"]?.GetValue<string>() ?? "default";
        foreach (var env in container["env"]!.AsArray().OfType<JsonNode>())
        {
            switch (env["name"]!.GetValue<string>())
            {
                // podman 4.3 fills only metadata.name, .uid, .labels and .annotations field references; it refuses
                // the pod (and so the play) for any other. The namespace is known: write it in, as the kubelet would.
                case "POD_NAMESPACE":
                    env.AsObject().Remove("valueFrom");
                    env["value"] = ns;
                    break;
                // As deploy/test/docker-compose.override.yml: no cluster DNS here (kube-dns, *.svc.cluster.local), and
                // the stand-in nginx (1.22) has no `resolve`. The servers' network alias resolves once, at nginx's
                // start, to every server pod; everything else on the line stays the manifest's.
                case "COURIER_RESOLVER":
                    env["value"] = "";
                    break;
                case "COURIER_UPSTREAM_SERVERS":
                    var upstream = env["value"]!.GetValue<string>();
                    var local = upstream.Replace(".$(POD_NAMESPACE).svc.cluster.local", "", StringComparison.Ordinal)
                        .Replace(" resolve;", ";", StringComparison.Ordinal);
                    Assert.NotEqual(upstream, local);
                    env["value"] = local;
                    break;
            }
        }

        // podman 4.3 turns a tcpSocket liveness probe into `nc -z HOST PORT` run inside the container (a named port
        // read as 0), and the image has no nc: the check would fail and podman would restart nginx. (It ignores
        // readiness probes.)
        container.AsObject().Remove("livenessProbe");

        // podman 4.3 ignores subPath: the whole ConfigMap would be mounted over the file's path (a directory where
        // nginx wants a file). Instead the ConfigMap is mounted at the file's directory, which then holds its two files
        // (nginx.conf and the template; each is harmless where the other is read).
        foreach (var mount in container["volumeMounts"]!.AsArray().OfType<JsonNode>())
        {
            var source = pod["volumes"]!.AsArray().Single(v => v!["name"]!.GetValue<string>() == mount["name"]!.GetValue<string>())!;
            if (mount["subPath"] is not null && source["configMap"] is not null)
            {
                mount["mountPath"] = Path.GetDirectoryName(mount["mountPath"]!.GetValue<string>());
                mount.AsObject().Remove("subPath");
            }
        }
    }

    private string Write(string file, params JsonNode[] documents)
    {
        var path = Path.Combine(_dir.FullName, file);
        File.WriteAllText(path, string.Join("\n---\n", documents.Select(d => d.ToJsonString())) + "\n");
        return path;
    }

    private static JsonElement Find(JsonElement[] objects, string kind, string name)
        => objects.Single(o => o.GetProperty("kind").GetString() == kind && o.GetProperty("metadata").GetProperty("name").GetString() == name);
}
