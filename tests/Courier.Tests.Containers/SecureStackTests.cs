using Courier.Tests.Containers.Infrastructure;
using Xunit.Abstractions;

namespace Courier.Tests.Containers;

/// <summary>deploy/docker-compose.secure.yml on real containers (<see cref="SecureStory"/>): keys made by its keygen, CURVE servers behind nginx.</summary>
[Collection(ContainerTestsDefinition.Name)]
public sealed class SecureStackTests(ComposeFixture stack, ITestOutputHelper output)
{
    [SkippableFact]
    public async Task The_secure_stack_answers_the_client_key_through_nginx_and_refuses_plain_text_and_a_key_without_the_right()
    {
        var story = (await stack.StoryAsync(output)).Secure;

        Assert.True(story.WithClientKey.ExitCode == 0 && story.WithClientKey.Stdout.Trim().Length > 0, story.WithClientKey.Output);
        // No keys: the listener never completes the handshake, so the request times out (exit code 3).
        Assert.True(story.WithoutKeys.ExitCode == 3, story.WithoutKeys.Output);
        // The worker's key is admitted but may not call whoami: 403, a remote error (exit code 4).
        Assert.True(story.WithWorkerKey.ExitCode == 4 && story.WithWorkerKey.Output.Contains("403", StringComparison.Ordinal), story.WithWorkerKey.Output);
    }

    [SkippableFact]
    public async Task Each_role_s_container_holds_its_own_secret_key_and_never_the_listeners()
    {
        var files = (await stack.StoryAsync(output)).Secure.KeyFiles;

        Assert.Equal(["./client.key", "./client.key_secret", "./server.key"], files["client"]);
        Assert.Equal(["./server.key", "./worker.key", "./worker.key_secret"], files["worker"]);
        Assert.Equal(["./allow/client.key", "./allow/server.key", "./allow/worker.key", "./server.key", "./server.key_secret"], files["server"]);
    }
}
