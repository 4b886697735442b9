using System.Text.Json;
using System.Text.RegularExpressions;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Containers;

/// <summary>
/// deploy/docker-compose.secure.yml read as text, no engine needed: a Courier service it leaves out runs without CURVE
/// and fails against the CURVE broker or listens in plain text.
/// </summary>
public sealed partial class SecureComposeTests
{
    private static readonly string Deploy = Path.Combine(Repo.Root, "deploy");

    [Fact]
    public void Every_courier_service_of_every_profile_runs_and_is_health_checked_with_curve_in_the_secure_override()
    {
        var plain = Compose.Read(Path.Combine(Deploy, "docker-compose.yml"));
        var secure = Compose.Read(Path.Combine(Deploy, "docker-compose.secure.yml"));
        var courierServices = plain.Services.Where(s => s.Value.Contains("*courier", StringComparison.Ordinal)).Select(s => s.Key).ToArray();
        Assert.Contains("ha-worker", courierServices);

        foreach (var name in courierServices)
        {
            Assert.True(secure.Services.TryGetValue(name, out var block), $"{name} is not in the secure override");
            var command = FlowList(block, "command") ?? throw new Xunit.Sdk.XunitException($"{name} has no command in the secure override");
            Assert.True(command.Contains("--curve-secret"), $"{name}: {string.Join(' ', command)}");
            Assert.True(command.Contains("--curve-server") || command.Contains("--curve-allow"), $"{name}: {string.Join(' ', command)}");

            // The health check that runs: the override's own, one it merges in, the plain file's, or the image's.
            var health = FlowList(block, "test")
                ?? secure.Anchors.Where(a => block.Contains("*" + a.Key, StringComparison.Ordinal)).Select(a => FlowList(a.Value, "test")).FirstOrDefault(t => t is not null)
                ?? FlowList(plain.Services[name], "test");
            var disabled = plain.Services[name].Contains("disable: true", StringComparison.Ordinal);
            if (!disabled)
            {
                Assert.True(health is not null, $"{name} would use the image's health check, which has no key");
                Assert.True(health.Contains("--curve-secret") && health.Contains("--curve-server"), $"{name}: {string.Join(' ', health)}");
            }
        }
    }

    [Fact]
    public void Each_role_mounts_only_the_key_volume_of_its_own_key_and_every_listener_enforces_the_policy()
    {
        var secure = Compose.Read(Path.Combine(Deploy, "docker-compose.secure.yml"));
        Assert.True(File.Exists(Path.Combine(Deploy, "policy.secure.json")));

        foreach (var (name, block) in secure.Services.Where(s => s.Key != "keygen"))
        {
            // What the service merges in (one anchor) counts as its own text.
            var anchor = Regex.Match(block, @"<<: \*([\w-]+)").Groups[1].Value;
            var text = block + (secure.Anchors.TryGetValue(anchor, out var merged) ? merged : "");
            var volumes = Regex.Matches(text, @"- (courier-keys[\w-]*):").Select(m => m.Groups[1].Value).ToArray();
            var command = FlowList(block, "command") ?? throw new Xunit.Sdk.XunitException($"{name} has no command");
            var secret = command[command.IndexOf("--curve-secret") + 1];
            var health = FlowList(text, "test");
            if (command.Contains("--curve-allow"))
            {
                Assert.Equal(["courier-keys-listener"], volumes);
                Assert.True(command.Contains("--policy"), $"{name} admits every allowed key to every service: {string.Join(' ', command)}");
            }
            else
            {
                // A client or worker: its own pair's volume, which holds no listener secret.
                Assert.Equal([$"courier-keys-{Path.GetFileName(secret).Replace(".key_secret", "", StringComparison.Ordinal)}"], volumes);
            }

            if (health is not null)
            {
                Assert.Equal(secret, health[health.IndexOf("--curve-secret") + 1]);
            }
        }
    }

    /// <summary>A YAML flow sequence of quoted strings (<c>key: ["a", "b"]</c>, over several lines): JSON as it is.</summary>
    private static List<string>? FlowList(string block, string key)
    {
        var match = Regex.Match(block, $@"(?m)^\s*{key}: (\[[^\]]*\])");
        return match.Success ? JsonSerializer.Deserialize<List<string>>(match.Groups[1].Value) : null;
    }

    /// <summary>The text of each service (two-space indent under <c>services:</c>) and of each top-level <c>&amp;anchor</c>.</summary>
    private sealed record Compose(Dictionary<string, string> Services, Dictionary<string, string> Anchors)
    {
        public static Compose Read(string path)
        {
            var text = File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal);
            var anchors = TopLevel().Matches(text)
                .Where(m => m.Groups["anchor"].Success)
                .ToDictionary(m => m.Groups["anchor"].Value, m => m.Groups["body"].Value);
            var services = TopLevel().Matches(text).Single(m => m.Groups["key"].Value == "services").Groups["body"].Value;
            return new Compose(ServiceBlock().Matches(services).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["body"].Value), anchors);
        }
    }

    [GeneratedRegex(@"(?ms)^(?<key>[a-z][\w-]*):(?: &(?<anchor>[\w-]+))?\n(?<body>.*?)(?=^\S|\z)")]
    private static partial Regex TopLevel();

    [GeneratedRegex(@"(?ms)^  (?<name>[a-z][\w-]*):\n(?<body>.*?)(?=^  \S|\z)")]
    private static partial Regex ServiceBlock();
}
