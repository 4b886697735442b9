using System.Diagnostics;
using System.Text.RegularExpressions;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Deploy;

/// <summary>deploy/local-stack.sh driven from tests: real nginx, real `courier server` processes.</summary>
public sealed partial class LocalStackProcess : IAsyncDisposable
{
    private LocalStackProcess(string stateDir, IReadOnlyList<(int Pid, string Endpoint)> servers, int nginxPid, string endpoint)
    {
        StateDir = stateDir;
        Servers = servers;
        NginxPid = nginxPid;
        Endpoint = endpoint;
    }

    public string StateDir { get; }

    public IReadOnlyList<(int Pid, string Endpoint)> Servers { get; }

    public int NginxPid { get; }

    /// <summary>nginx's endpoint, in front of the servers.</summary>
    public string Endpoint { get; }

    public static string Script => Path.Combine(Repo.Root, "deploy", "local-stack.sh");

    public static void SkipUnlessNginx()
    {
        var available = File.Exists("/usr/sbin/nginx")
            && (File.Exists("/usr/lib/nginx/modules/ngx_stream_module.so") || File.Exists("/usr/share/nginx/modules/ngx_stream_module.so"));
        if (!available && Repo.IsCi)
        {
            Assert.Fail("nginx with the stream module is required in CI; .ci/run installs nginx and libnginx-mod-stream.");
        }

        Skip.IfNot(available, "nginx is missing: apt-get install nginx libnginx-mod-stream");
    }

    public static async Task<LocalStackProcess> UpAsync(int servers = 3, string proxyTimeout = "60s", bool secure = false)
    {
        var state = Directory.CreateTempSubdirectory("courier-stack-").FullName;
        // The servers bind `*`; nginx cannot, so with --port 0 the script picks its port (outside the kernel's
        // ephemeral range) and picks again if nginx finds it taken. It prints every endpoint.
        var (exit, stdout, stderr) = await RunAsync(state, ["up", "--servers", servers.ToString(System.Globalization.CultureInfo.InvariantCulture), "--port", "0", "--proxy-timeout", proxyTimeout, .. (secure ? ["--secure"] : Array.Empty<string>())]);
        Assert.True(exit == 0, $"local-stack up failed ({exit}): {stderr}\n{stdout}");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var serverLines = lines.Select(l => ServerLine().Match(l)).Where(m => m.Success)
            .Select(m => (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups[2].Value)).ToArray();
        var nginx = lines.Select(l => NginxLine().Match(l)).Single(m => m.Success);
        Assert.Equal(servers, serverLines.Length);
        return new LocalStackProcess(state, serverLines, int.Parse(nginx.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), nginx.Groups[2].Value);
    }

    public static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited && !File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2].Equals("Z", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException)
        {
            return false;
        }
    }

    public async Task<(int ExitCode, string Stdout, string Stderr)> DownAsync() => await RunAsync(StateDir, "down");

    public async ValueTask DisposeAsync()
    {
        await DownAsync();
        try
        {
            Directory.Delete(StateDir, recursive: true);
        }
        catch (IOException)
        {
            // a log still being written; the temp folder goes with the machine
        }
    }

    /// <summary>Runs the script with <paramref name="state"/> as its state directory.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string state, params string[] args)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Script);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["COURIER"] = Path.Combine(AppContext.BaseDirectory, "Courier.Cli");
        info.Environment["COURIER_STACK_DIR"] = state;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [GeneratedRegex(@"^server (\d+) (tcp://\S+)$")]
    private static partial Regex ServerLine();

    [GeneratedRegex(@"^nginx (\d+) (tcp://\S+)$")]
    private static partial Regex NginxLine();
}
