"""``[training]``: the trainable players' RL algorithm, its network and its framework."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from league.config.sections import Section
from league.config.validation import check_framework_installed, is_stored_run

#: League's values of PPO's settings that ``[training]`` leaves unset (tuned on Connect Four, docs/benchmarks.md;
#: the KL penalty's are RLlib's defaults). APPO and IMPALA keep RLlib's own defaults for the ones they have.
PPO_DEFAULTS: dict[str, Any] = {"minibatch_size": 256, "num_epochs": 8, "lambda_": 0.95, "clip_param": 0.2,
                                "kl_coeff": 0.2, "kl_target": 0.01}

#: Which of the algorithm-specific ``[training]`` fields each algorithm has, and why the others have no meaning.
ALGORITHM_FIELDS: dict[str, frozenset[str]] = {
    "PPO": frozenset(PPO_DEFAULTS),
    "APPO": frozenset({"num_epochs", "clip_param", "kl_coeff", "kl_target"}),
    "IMPALA": frozenset({"num_epochs"}),
}
_WHY_NOT = {
    "minibatch_size": "RLlib's old-stack {algorithm} learner updates on whole train batches",
    "lambda_": "{algorithm} estimates returns with V-trace, which has no GAE lambda",
    "clip_param": "{algorithm} has no PPO surrogate clip (APPO has)",
    "kl_coeff": "{algorithm} has no KL penalty (PPO and APPO have)",
    "kl_target": "{algorithm} has no KL penalty (PPO and APPO have)",
}

#: ``[training.rllib]`` keys League sets itself, with the field to use instead.
LEAGUE_OWNED_RLLIB_KEYS: dict[str, str] = {
    **{name: f"training.{name}" for name in (
        "train_batch_size", "lr", "gamma", "entropy_coeff", "vf_loss_coeff", *PPO_DEFAULTS)},
    "train_batch_size_per_learner": "training.train_batch_size",
    "model": "training.model, training.hiddens, training.activation, training.conv_channels and "
             "training.conv_blocks (League's action-masking models)",
}


class TrainingConfig(Section):
    """Settings of the trainable players' RL algorithm (PPO, APPO or IMPALA; RLlib old API stack)."""

    algorithm: Literal["PPO", "APPO", "IMPALA"] = Field(
        "PPO", description="RLlib algorithm that trains the players: 'PPO', 'APPO' (asynchronous PPO with V-trace "
        "and a target network) or 'IMPALA' (V-trace actor-critic), each on RLlib's old API stack.")
    train_batch_size: int = Field(
        12000, ge=64, description="Env steps per update, shared by every trainable player's matches (12000: "
        "about 4000 per player in the default three-role league; docs/benchmarks.md).")
    minibatch_size: int | None = Field(
        None, ge=8, description="SGD minibatch size (PPO only; unset: 256).")
    num_epochs: int | None = Field(
        None, ge=1, description="Passes over each train batch (unset: 8 for PPO, RLlib's 1 for APPO and IMPALA).")
    lr: float = Field(5e-4, gt=0, lt=1, description="Adam learning rate.")
    gamma: float = Field(0.99, gt=0, le=1, description="Discount factor.")
    lambda_: float | None = Field(None, ge=0, le=1, description="GAE lambda (PPO only; unset: 0.95).")
    clip_param: float | None = Field(
        None, gt=0, description="Surrogate clip range (PPO and APPO; unset: 0.2 for PPO, RLlib's 0.4 for APPO).")
    entropy_coeff: float = Field(0.01, ge=0, description="Entropy bonus weight.")
    vf_loss_coeff: float = Field(0.5, ge=0, description="Value loss weight.")
    kl_coeff: float | None = Field(
        None, ge=0, description="Initial weight of the adaptive KL penalty (PPO and APPO, where it needs "
        "training.rllib.use_kl_loss = true; unset: RLlib's defaults, 0.2 for PPO and 1.0 for APPO).")
    kl_target: float | None = Field(
        None, gt=0, description="KL divergence per update the penalty steers to (PPO and APPO; unset: 0.01).")
    rllib: dict[str, Any] = Field(
        default_factory=dict, description="Further keyword arguments of the algorithm config's training() "
        "(RLlib's names, e.g. grad_clip, lr_schedule, vf_clip_param); each is checked against the chosen "
        "algorithm's settings before the run starts.")
    model: Literal["mlp", "conv"] = Field(
        "mlp", description="The players' network: 'mlp' (policy and value MLPs over the flattened observation; "
        "hiddens, activation) or 'conv' (a residual convolutional tower over a Box(H, W, C) board such as "
        "Connect Four's 6x7x2, with a policy and a value head; conv_channels, conv_blocks). Both mask illegal "
        "actions (agents.models).")
    hiddens: tuple[int, ...] = Field((256, 256), min_length=1, description="MLP layer widths (model 'mlp').")
    activation: Literal["tanh", "relu"] = Field(
        "tanh", description="Activation of the MLP's hidden layers: 'tanh' or 'relu' (docs/benchmarks.md "
        "compares them on Connect Four; model 'mlp').")
    conv_channels: int = Field(
        64, ge=1, le=1024, description="Channels of every 3x3 convolution of the conv tower (model 'conv').")
    conv_blocks: int = Field(
        2, ge=0, le=32, description="Residual blocks (two 3x3 convolutions and a skip each) after the conv "
        "model's stem convolution (model 'conv').")
    framework: Literal["torch", "tf2"] = Field(
        "torch", description="Deep-learning framework of the trainable players: 'torch', or 'tf2' (RLlib's "
        "eager TF2 policies; needs the tf extra: pip install 'league[tf]'). Snapshots and exports hold the "
        "same weights layout either way.")

    @field_validator("framework")
    @classmethod
    def _framework_installed(cls, value: str, info: ValidationInfo) -> str:
        if not is_stored_run(info):  # `league status` reads a tf2 run without TensorFlow
            check_framework_installed(value)
        return value

    @model_validator(mode="after")
    def _minibatch_fits_the_batch(self) -> TrainingConfig:
        # RLlib's PPO refuses this only when the Algorithm is built, after the run folder exists.
        minibatch = self.minibatch_size if self.minibatch_size is not None else PPO_DEFAULTS["minibatch_size"]
        if self.algorithm == "PPO" and minibatch > self.train_batch_size:
            raise ValueError(f"minibatch_size={minibatch} is larger than train_batch_size="
                             f"{self.train_batch_size}: expected training.minibatch_size <= "
                             "training.train_batch_size (each PPO epoch splits the train batch into minibatches)")
        return self

    def custom_model_config(self) -> dict[str, Any]:
        """The ``custom_model_config`` of League's action-masking model for these settings.

        The MLP's names no model kind (as snapshots from before the conv model did);
        :func:`agents.models.model_config_for` reads ``model`` to pick the class.

        Example:
            >>> TrainingConfig(hiddens=(64,)).custom_model_config()
            {'hiddens': [64], 'activation': 'tanh'}
            >>> TrainingConfig(model="conv").custom_model_config()
            {'model': 'conv', 'conv_channels': 64, 'conv_blocks': 2}
        """
        if self.model == "conv":
            return {"model": "conv", "conv_channels": self.conv_channels, "conv_blocks": self.conv_blocks}
        return {"hiddens": list(self.hiddens), "activation": self.activation}

    def model_spec(self) -> dict[str, Any]:
        """The RLlib ``model`` config of League's model for these settings (framework-neutral).

        What a snapshot's manifest records and what the Algorithm's policies are built with
        (:func:`agents.models.model_config_for` adds the framework's class name).

        Example:
            >>> TrainingConfig(hiddens=(64,)).model_spec()
            {'custom_model': 'league_action_mask', 'custom_model_config': {'hiddens': [64], 'activation': 'tanh'}}
        """
        from agents.model_names import ACTION_MASK_MODEL

        return {"custom_model": ACTION_MASK_MODEL, "custom_model_config": self.custom_model_config()}

    @model_validator(mode="after")
    def _fields_the_algorithm_has(self) -> TrainingConfig:
        problems = []
        for name in sorted(set(PPO_DEFAULTS) - ALGORITHM_FIELDS[self.algorithm]):
            value = getattr(self, name)
            if value is not None:
                why = _WHY_NOT[name].format(algorithm=self.algorithm)
                problems.append(f"{name}={value!r} is not a setting of {self.algorithm} ({why}): remove it")
        for key in sorted(self.rllib):
            if key in LEAGUE_OWNED_RLLIB_KEYS:
                problems.append(f"rllib.{key}: League sets it from {LEAGUE_OWNED_RLLIB_KEYS[key]}; set that instead")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def algorithm_training_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of RLlib's ``AlgorithmConfig.training()`` these settings ask for (no ``model``).

        Settings the algorithm shares with every other are always passed; PPO's
        own ones unset here are League's :data:`PPO_DEFAULTS` for PPO and left
        to RLlib's defaults for APPO and IMPALA; ``rllib`` comes last.

        Example:
            >>> TrainingConfig(minibatch_size=64).algorithm_training_kwargs()["minibatch_size"]
            64
            >>> "num_epochs" in TrainingConfig(algorithm="IMPALA").algorithm_training_kwargs()
            False
        """
        kwargs: dict[str, Any] = {"train_batch_size": self.train_batch_size, "lr": self.lr, "gamma": self.gamma,
                                  "entropy_coeff": self.entropy_coeff, "vf_loss_coeff": self.vf_loss_coeff}
        for name in sorted(ALGORITHM_FIELDS[self.algorithm]):
            value = getattr(self, name)
            if value is None and self.algorithm == "PPO":
                value = PPO_DEFAULTS[name]
            if value is not None:
                kwargs[name] = value
        return {**kwargs, **self.rllib}
