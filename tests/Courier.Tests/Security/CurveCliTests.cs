using Courier.Tests.Infrastructure;

namespace Courier.Tests.Security;

/// <summary>
/// The CLI's CURVE flags (native transport only: the managed one refuses security settings before it reads a file, and
/// Security/ is not compiled into the managed test project).
/// </summary>
public sealed class CurveCliTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private const string Nobody = "tcp://127.0.0.1:1";

    [Fact]
    public async Task A_CURVE_broker_serving_its_metrics_beyond_loopback_warns_that_they_are_unauthenticated()
    {
        using var keys = new Keys();
        var curve = new[] { "--curve-secret", keys.Secret("server"), "--curve-allow", keys.AllowDirectory };
        var (open, _) = await ChildProcess.StartBrokerAsync(["--bind", "tcp://127.0.0.1:*", "--metrics-port", "*", .. curve]);
        await using (open)
        {
            await Poll.UntilAsync(() => open.Stderr.Contains("courier: warning: metrics on http://0.0.0.0:", StringComparison.Ordinal), Bound, "the warning");
        }

        var (local, _) = await ChildProcess.StartBrokerAsync(["--bind", "tcp://127.0.0.1:*", "--metrics-port", "*", "--metrics-host", "127.0.0.1", .. curve]);
        await using (local)
        {
            await local.WaitForOutputAsync("metrics on http://127.0.0.1:");
            local.Signal("TERM");
            Assert.Equal(0, await local.WaitForExitAsync(Bound));
            Assert.DoesNotContain("warning", local.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Top_watches_a_CURVE_broker_with_a_clients_keys()
    {
        using var keys = new Keys().Generate("client", allow: true);
        var (broker, endpoint) = await ChildProcess.StartBrokerAsync(
            "--bind", "tcp://127.0.0.1:*", "--curve-secret", keys.Secret("server"), "--curve-allow", keys.AllowDirectory);
        await using var _ = broker;

        var (exit, stdout, stderr) = await ChildProcess.RunAsync(
            Bound, "top", "--connect", endpoint, "--iterations", "1", "--curve-secret", keys.Secret("client"), "--curve-server", keys.Public("server"));

        Assert.True(exit == 0, $"exit {exit}: {stderr}\n{stdout}");
        Assert.Contains("SERVICE", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_curve_secret_file_is_one_error_line_and_exit_2_without_quoting_the_key()
    {
        // Z85 has '=': a secret key with one would make the line a property after all (a misnamed one).
        var secret = Courier.Security.CurveCertificate.Generate();
        while (secret.SecretKey!.Contains('=', StringComparison.Ordinal))
        {
            secret = Courier.Security.CurveCertificate.Generate();
        }

        var path = Path.Combine(Path.GetTempPath(), $"courier-bad-{Guid.NewGuid():N}.key_secret");
        // A colon for the '=': the line is not a property, and must not be quoted back.
        await File.WriteAllTextAsync(path, $"curve\n    public-key = \"{secret.PublicKey}\"\n    secret-key: \"{secret.SecretKey}\"\n");
        try
        {
            var (exit, stdout, stderr) = await ChildProcess.RunAsync(Bound, "request", "--connect", Nobody, "--curve-secret", path);

            Assert.True(exit == 2, $"exit {exit}: {stderr}");
            Assert.StartsWith($"courier: error: --curve-secret: {path}:3: expected a property", stderr.Trim(), StringComparison.Ordinal);
            Assert.DoesNotContain(secret.SecretKey![..8], stderr, StringComparison.Ordinal);
            Assert.Empty(stdout.Trim());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
