using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Courier.Tests.Infrastructure;

/// <summary>The real <c>courier</c> executable run as a child process, with its output captured.</summary>
public sealed partial class CourierProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();

    private CourierProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _stdout.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _stderr.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The Courier.Cli.dll built beside the tests (the test project references the CLI project).</summary>
    public static string CliDll { get; } = Path.Combine(AppContext.BaseDirectory, "Courier.Cli.dll");

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Stdout => string.Join('\n', _stdout);

    public string Stderr => string.Join('\n', _stderr);

    public static CourierProcess Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(CliDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return new CourierProcess(Process.Start(info) ?? throw new InvalidOperationException("could not start courier"));
    }

    /// <summary>Runs a command to completion (bounded) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(TimeSpan timeout, params string[] args)
    {
        await using var process = Start(args);
        using var cts = new CancellationTokenSource(timeout);
        await process._process.WaitForExitAsync(cts.Token);
        process._process.WaitForExit(); // flushes the asynchronous output readers
        return (process.ExitCode, process.Stdout, process.Stderr);
    }

    /// <summary>Starts <c>courier server</c> and waits until it prints the endpoint it listens on.</summary>
    public static async Task<(CourierProcess Process, string Endpoint)> StartServerAsync(params string[] args)
    {
        var process = Start(["server", .. args]);
        string? endpoint = null;
        await Poll.UntilAsync(
            () =>
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"courier server exited with {process.ExitCode}: {process.Stderr}");
                }

                var match = ListeningLine().Match(process.Stdout);
                endpoint = match.Success ? match.Groups[1].Value : null;
                return endpoint is not null;
            },
            TimeSpan.FromSeconds(30),
            "courier server prints its endpoint");
        return (process, endpoint!);
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill!.WaitForExit();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"listening on (\S+)")]
    private static partial Regex ListeningLine();
}
