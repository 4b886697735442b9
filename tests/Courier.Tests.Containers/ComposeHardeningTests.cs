using System.Diagnostics;
using System.Text.RegularExpressions;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Containers;

/// <summary>
/// Every container of the compose stacks, plain and secured, every profile, as docker-compose resolves them (anchors
/// merged, the override applied; no engine needed): no capability, none gained, the image read-only, and a memory
/// limit with no swap beyond it. The secured stack's one-shot keygen had none of these before. The blocks are matched as
/// docker-compose 1.29 (Debian's, which .ci/run installs) prints them; another printer fails here, it does not pass.
/// </summary>
public sealed partial class ComposeHardeningTests
{
    private static readonly string Deploy = Path.Combine(Repo.Root, "deploy");

    [SkippableTheory]
    [InlineData("docker-compose.yml")]
    [InlineData("docker-compose.yml", "docker-compose.secure.yml")]
    public async Task Every_container_drops_all_capabilities_gains_none_runs_read_only_and_has_a_memory_limit_without_swap(params string[] files)
    {
        Skip.IfNot(OnPath("docker-compose"), "docker-compose is not installed (.ci/run installs it)");
        var services = Services(await ConfigAsync(files));
        Assert.Contains("nginx", services.Keys);
        Assert.Contains("broker", services.Keys);
        if (files.Length > 1)
        {
            Assert.Contains("keygen", services.Keys);
        }

        foreach (var (name, block) in services)
        {
            Assert.True(block.Contains("\n    cap_drop:\n    - ALL\n", StringComparison.Ordinal), $"{name} keeps capabilities:\n{block}");
            Assert.True(block.Contains("\n    - no-new-privileges:true\n", StringComparison.Ordinal), $"{name} may gain privileges:\n{block}");
            Assert.True(block.Contains("\n    read_only: true\n", StringComparison.Ordinal), $"{name} may write its image:\n{block}");
            var memory = Regex.Match(block, @"\n    mem_limit: (\S+)\n");
            Assert.True(memory.Success, $"{name} has no memory limit:\n{block}");
            Assert.Contains($"\n    memswap_limit: {memory.Groups[1].Value}\n", block, StringComparison.Ordinal);
        }
    }

    /// <summary>docker-compose's rendering of <paramref name="files"/> with every profile.</summary>
    private static async Task<string> ConfigAsync(string[] files)
    {
        var start = new ProcessStartInfo("docker-compose") { WorkingDirectory = Deploy, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var file in files)
        {
            start.ArgumentList.Add("-f");
            start.ArgumentList.Add(file);
        }

        start.ArgumentList.Add("--profile");
        start.ArgumentList.Add("broker");
        start.ArgumentList.Add("config");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        Assert.True(process.ExitCode == 0, $"docker-compose config: {await error}");
        return await output;
    }

    private static bool OnPath(string program)
        => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(d => d.Length > 0 && File.Exists(Path.Combine(d, program)));

    /// <summary>Each service's block of the rendered file, by name (two spaces in under <c>services:</c>).</summary>
    private static Dictionary<string, string> Services(string config)
    {
        var section = config[(config.IndexOf("services:\n", StringComparison.Ordinal) + "services:\n".Length)..];
        var end = Regex.Match(section, @"^\S", RegexOptions.Multiline);
        if (end.Success)
        {
            section = section[..end.Index];
        }

        return ServiceName().Matches(section).ToDictionary(m => m.Groups[1].Value, m => "\n" + m.Groups[2].Value);
    }

    [GeneratedRegex(@"^  ([\w-]+):\n((?:    .*\n|\n)*)", RegexOptions.Multiline)]
    private static partial Regex ServiceName();
}
